/** Shapes of the server's wire formats (ComfyUI-compatible): /object_info entries, queue and history items. */

export type InputOptions = {
  default?: unknown;
  min?: number;
  max?: number;
  step?: number;
  round?: number | false;
  display?: string;
  multiline?: boolean;
  placeholder?: string;
  tooltip?: string;
  forceInput?: boolean;
  control_after_generate?: boolean;
  image_upload?: boolean;
  label_on?: string;
  label_off?: string;
  options?: unknown[];
  [key: string]: unknown;
};

/** One declared input: `[TYPE]`, `[TYPE, options]`, or `[[choices...], options]` for a combo. */
export type InputSpec = [string | unknown[], InputOptions?] | [string | unknown[]];

export type NodeInfo = {
  input: {
    required?: Record<string, InputSpec>;
    optional?: Record<string, InputSpec>;
    hidden?: Record<string, unknown>;
  };
  input_order?: { required?: string[]; optional?: string[] };
  output: string[];
  output_is_list?: boolean[];
  output_name?: string[];
  name: string;
  display_name?: string;
  description?: string;
  category?: string;
  output_node?: boolean;
  deprecated?: boolean;
  experimental?: boolean;
  /** Set on a second name for another node (e.g. CLIPEncode for CLIPTextEncode): listed once, under its main name. */
  alias_of?: string;
};

export type ObjectInfo = Record<string, NodeInfo>;

export type ApiNode = {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
};

export type ApiPrompt = Record<string, ApiNode>;

/** Queue tuple: `[number, prompt_id, prompt, extra_data, outputs_to_execute]`. */
export type QueueItem = [number, string, ApiPrompt, Record<string, unknown>?, string[]?];

export type QueueState = { queue_running: QueueItem[]; queue_pending: QueueItem[] };

export type FileRef = { filename: string; subfolder?: string; type?: string };

export type HistoryEntry = {
  prompt: QueueItem;
  outputs: Record<string, Record<string, unknown>>;
  status?: { status_str?: string; completed?: boolean; messages?: [string, Record<string, unknown>][] };
};

export type NodeError = { type: string; message: string; details?: string; extra_info?: Record<string, unknown> };

export type NodeErrors = Record<string, { errors: NodeError[]; class_type?: string }>;
