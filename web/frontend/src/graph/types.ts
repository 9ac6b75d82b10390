/** Socket type compatibility, the same rule as the engine's types_compatible: `*` matches all, comma lists are unions. */

function parts(type: string): string[] {
  return type
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
}

export function typesCompatible(outputType: string, inputType: string): boolean {
  if (outputType === inputType) return true;
  const out = parts(outputType);
  const inp = parts(inputType);
  if (out.includes("*") || inp.includes("*")) return true;
  return out.some((t) => inp.includes(t));
}

/** A sentence explaining why a connection is refused, or null when it is allowed. */
export function connectionRefusal(outputType: string, inputType: string, inputName: string): string | null {
  if (typesCompatible(outputType, inputType)) return null;
  return `Cannot connect ${outputType} to "${inputName}": it expects ${inputType}.`;
}
