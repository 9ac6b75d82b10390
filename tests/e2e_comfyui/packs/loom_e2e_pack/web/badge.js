// Registered through the editor's extension API, as pack scripts are; setup() runs once the app is ready.
import { app } from "../../scripts/app.js";

app.registerExtension({
  name: "loom.e2e.badge",
  async setup() {
    const badge = document.createElement("div");
    badge.id = "loom-e2e-badge";
    badge.textContent = "Loom test pack extension loaded";
    Object.assign(badge.style, { position: "fixed", left: "60px", bottom: "8px", zIndex: 9999,
                                 padding: "4px 8px", background: "#2a6", color: "white", font: "12px sans-serif" });
    document.body.append(badge);
  },
});
