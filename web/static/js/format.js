// Times and sizes written as the server writes them (autoconf/schemes/timecode.py,
// autoconf/media/storage.py), so a page never shows two spellings of the same thing.

const APOSTROPHE = "\u2019";

/** `602` -> `10’02`; past an hour `4510` -> `1h15’10` (seconds truncated). */
export function timecode(seconds) {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = String(total % 60).padStart(2, "0");
  if (hours) return `${hours}h${String(minutes).padStart(2, "0")}${APOSTROPHE}${rest}`;
  return `${minutes}${APOSTROPHE}${rest}`;
}

/** Byte sizes the French way: `1,5 Mo`, `2,0 Go`. */
export function fileSize(bytes) {
  let value = Math.max(0, Number(bytes) || 0);
  for (const unit of ["o", "Ko", "Mo", "Go"]) {
    if (value < 1024 || unit === "Go") {
      const text = unit === "o" ? value.toFixed(0) : value.toFixed(1);
      return `${text.replace(".", ",")} ${unit}`;
    }
    value /= 1024;
  }
  return "";
}

/** A rough remaining time: `45 s`, `12 min`, `1 h 05 min`. */
export function roughDuration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  if (total < 60) return `${Math.max(5, Math.ceil(total / 5) * 5)} s`;
  const minutes = Math.ceil(total / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** `42` -> `42 %`, with the narrow no-break space French typography puts before `%`. */
export function percent(value) {
  return `${Math.floor(Math.max(0, Math.min(100, value)))}\u202f%`;
}

/** `{name}` placeholders of a translated message, filled in. */
export function fill(message, values) {
  return message.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? values[key] : whole));
}
