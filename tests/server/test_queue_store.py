"""The SQLite prompt queue: ordering, history pagination, secrets and crash recovery."""

from engine.queue import PromptQueue, QueueItem, make_status


def _item(q: PromptQueue, pid: str, front: bool = False, **extra) -> QueueItem:
    return QueueItem(q.next_number(front), pid, {"1": {"class_type": "X", "inputs": {}}}, dict(extra), ["1"])


def test_claims_follow_priority_then_arrival(tmp_path):
    q = PromptQueue(tmp_path / "q.db")
    for pid in ("a", "b"):
        q.put(_item(q, pid))
    q.put(_item(q, "urgent", front=True))
    assert [q.claim(0).prompt_id for _ in range(3)] == ["urgent", "a", "b"]
    assert q.claim(0) is None


def test_history_pagination_counts_offset_from_oldest(tmp_path):
    q = PromptQueue(tmp_path / "q.db")
    for i in range(5):
        q.put(_item(q, f"p{i}"))
        q.finish(q.claim(0), {}, make_status("success", True, []))
    assert list(q.history()) == ["p0", "p1", "p2", "p3", "p4"]
    assert list(q.history(max_items=2)) == ["p3", "p4"]
    assert list(q.history(max_items=2, offset=1)) == ["p1", "p2"]
    q.delete_history(["p1"])
    assert "p1" not in q.history() and q.history_entry("p2")["status"]["status_str"] == "success"


def test_secrets_reach_the_worker_but_never_the_disk_or_listing(tmp_path):
    q = PromptQueue(tmp_path / "q.db")
    q.put(_item(q, "s", api_key_comfy_org="SECRET", extra_pnginfo={"a": 1}))
    assert "SECRET" not in str(q.pending()[0].as_list())
    claimed = q.claim(0)
    assert claimed.extra_data["api_key_comfy_org"] == "SECRET"
    q.finish(claimed, {}, make_status("success", True, []))
    q.close()
    assert b"SECRET" not in (tmp_path / "q.db").read_bytes()
    assert PromptQueue(tmp_path / "q.db").history_entry("s")["prompt"][3] == {"extra_pnginfo": {"a": 1}}


def test_prompt_left_running_is_requeued_then_failed_after_max_attempts(tmp_path):
    db = tmp_path / "q.db"
    q = PromptQueue(db, max_attempts=2)
    q.put(_item(q, "crashy"))
    q.put(_item(q, "later"))
    assert q.claim(0).prompt_id == "crashy"
    q._db.close()  # the process dies with "crashy" running

    q = PromptQueue(db, max_attempts=2)
    assert q.recovered == [("crashy", "requeued")]
    assert [i.prompt_id for i in q.pending()] == ["crashy", "later"]
    assert q.claim(0).prompt_id == "crashy"
    q._db.close()  # dies again

    q = PromptQueue(db, max_attempts=2)
    assert q.recovered == [("crashy", "failed")]
    status = q.history_entry("crashy")["status"]
    assert status["status_str"] == "error" and "2 times" in status["messages"][0][1]["exception_message"]
    assert [i.prompt_id for i in q.pending()] == ["later"]


def test_delete_and_clear_only_touch_pending(tmp_path):
    q = PromptQueue(tmp_path / "q.db")
    for pid in ("run", "a", "b", "c"):
        q.put(_item(q, pid))
    q.claim(0)
    assert q.delete(["a", "run"]) == 1
    assert q.clear() == 2
    assert [i.prompt_id for i in q.running()] == ["run"] and q.remaining() == 1


def test_released_prompt_runs_again_without_using_up_a_try(tmp_path):
    q = PromptQueue(tmp_path / "q.db", max_attempts=1)
    q.put(_item(q, "p", api_key_comfy_org="SECRET"))
    q.release(q.claim(0))  # clean shutdown while it ran
    q.close()
    q = PromptQueue(tmp_path / "q.db", max_attempts=1)
    assert q.recovered == [] and [i.prompt_id for i in q.pending()] == ["p"]
    assert q.claim(0).prompt_id == "p"


def test_history_keeps_only_the_newest_entries_past_its_cap(tmp_path):
    q = PromptQueue(tmp_path / "q.db", max_history=2)
    for pid in ("old", "mid", "new"):
        q.put(_item(q, pid))
        q.finish(q.claim(0), {}, make_status("success", True, []))
    assert list(q.history()) == ["mid", "new"]


def test_claim_hands_out_the_submitters_item_until_a_restart_reads_it_back(tmp_path):
    q = PromptQueue(tmp_path / "q.db")
    first, second = _item(q, "a", api_key_comfy_org="SECRET"), _item(q, "b", api_key_comfy_org="KEY")
    first.prepared = second.prepared = "validated"
    q.put(first)
    q.put(second)
    claimed = q.claim(0)
    assert claimed is first and claimed.prepared == "validated"
    q.close()
    reopened = PromptQueue(tmp_path / "q.db")  # a killed process: only the database is left
    again = [reopened.claim(0), reopened.claim(0)]
    assert [(i.prompt_id, i.prepared) for i in again] == [("a", None), ("b", None)]
    assert again[1].prompt == second.prompt and "api_key_comfy_org" not in again[1].extra_data


def test_a_deleted_prompt_leaves_nothing_in_memory_to_claim(tmp_path):
    q = PromptQueue(tmp_path / "q.db")
    q.put(_item(q, "gone"))
    q.delete(["gone"])
    assert q.claim(0) is None and not q._prepared


def test_history_keeps_integers_beyond_64_bits_and_stores_nan_outputs_as_null(tmp_path):
    """Queue rows and history are written by orjson, which refuses integers past 64 bits: such a seed
    still survives a restart exactly; a NaN in a node's UI output is read back as null (JSON.parse-able)."""
    q = PromptQueue(tmp_path / "q.db")
    seed = 2**70 + 3
    q.put(QueueItem(q.next_number(), "big", {"1": {"class_type": "X", "inputs": {"seed": seed}}}, {}, ["1"]))
    q.finish(q.claim(0), {"1": {"score": [float("nan"), 1.5], 7: "int key"}}, make_status("success", True, []))
    q.close()
    entry = PromptQueue(tmp_path / "q.db").history_entry("big")
    assert entry["prompt"][2]["1"]["inputs"]["seed"] == seed
    assert entry["outputs"]["1"] == {"score": [None, 1.5], "7": "int key"}



def test_outputs_json_cannot_hold_as_they_are_are_stored_as_a_browser_reads_them(tmp_path):
    q = PromptQueue(tmp_path / "q.db")
    for pid, outputs in (("keys", {"1": {"by_frame": {0: "first", 1: "second"}, "score": [float("nan")]}}),
                         ("big", {"1": {"seed": [2 ** 70]}})):
        q.put(_item(q, pid))
        q.finish(q.claim(0), outputs, make_status("success", True, []))
    stored = PromptQueue(tmp_path / "q.db")
    assert stored.history_entry("keys")["outputs"]["1"] == {"by_frame": {"0": "first", "1": "second"}, "score": [None]}
    assert stored.history_entry("big")["outputs"]["1"] == {"seed": [2 ** 70]}
