/** Input fields for literal widgets: numbers (field or slider), text, multiline text, toggles and dropdowns. */
import { useEffect, useState } from "react";
import type { InputDef } from "../graph/spec";
import { normalizeNumber } from "../graph/widgets";

type FieldProps = { def: InputDef; value: unknown; onChange: (value: unknown) => void; invalid?: boolean };

function NumberField({ def, value, onChange, invalid }: FieldProps) {
  const [text, setText] = useState(String(value ?? ""));
  useEffect(() => setText(String(value ?? "")), [value]);
  const commit = () => {
    const v = normalizeNumber(def, Number(text));
    setText(String(v));
    if (v !== value) onChange(v);
  };
  const { min, max, step } = def.options;
  if (def.options.display === "color") {
    const hex = `#${Number(value ?? 0).toString(16).padStart(6, "0")}`;
    return <input className="nodrag color" type="color" value={hex} onChange={(e) => onChange(parseInt(e.target.value.slice(1), 16))} />;
  }
  const stepAttr = step ?? (def.widget === "INT" ? 1 : "any");
  if (def.options.display === "slider") {
    return (
      <span className="slider nodrag">
        <input type="range" min={min} max={max} step={stepAttr} value={Number(value)} onChange={(e) => onChange(normalizeNumber(def, Number(e.target.value)))} />
        <span className="slider-value">{String(value)}</span>
      </span>
    );
  }
  return (
    <input
      className={`nodrag${invalid ? " invalid" : ""}`}
      type="number"
      min={min}
      max={max}
      step={stepAttr}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onBlur={commit}
      onKeyDown={(e) => e.key === "Enter" && commit()}
    />
  );
}

function TextField({ def, value, onChange, invalid }: FieldProps) {
  const [text, setText] = useState(String(value ?? ""));
  useEffect(() => setText(String(value ?? "")), [value]);
  const commit = () => text !== value && onChange(text);
  const cls = `nodrag nowheel${invalid ? " invalid" : ""}`;
  if (def.options.multiline) {
    return <textarea className={cls} rows={4} value={text} placeholder={def.options.placeholder ?? def.name} onChange={(e) => setText(e.target.value)} onBlur={commit} />;
  }
  return <input className={cls} type="text" value={text} placeholder={def.options.placeholder} onChange={(e) => setText(e.target.value)} onBlur={commit} onKeyDown={(e) => e.key === "Enter" && commit()} />;
}

function Toggle({ def, value, onChange }: FieldProps) {
  const on = !!value;
  return (
    <button type="button" className={`toggle nodrag${on ? " on" : ""}`} onClick={() => onChange(!on)}>
      <span className="knob" />
      <span>{on ? (def.options.label_on ?? "true") : (def.options.label_off ?? "false")}</span>
    </button>
  );
}

function ComboField({ def, value, onChange, invalid }: FieldProps) {
  const choices = def.choices.map(String);
  const current = String(value ?? "");
  const missing = current !== "" && !choices.includes(current);
  return (
    <select className={`nodrag${invalid || missing ? " invalid" : ""}`} value={current} onChange={(e) => onChange(e.target.value)}>
      {missing && <option value={current}>{current} (missing)</option>}
      {choices.length === 0 && !missing && <option value="">(none available)</option>}
      {choices.map((c) => (
        <option key={c} value={c}>
          {c}
        </option>
      ))}
    </select>
  );
}

export function WidgetField(props: FieldProps) {
  switch (props.def.widget) {
    case "INT":
    case "FLOAT":
      return <NumberField {...props} />;
    case "BOOLEAN":
      return <Toggle {...props} />;
    case "COMBO":
      return <ComboField {...props} />;
    default:
      return <TextField {...props} />;
  }
}
