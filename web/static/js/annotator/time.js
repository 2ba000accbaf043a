// Times typed and shown in the annotator's fields: `10’02`, `1h15’10`, with tenths when a
// segment edge was nudged (`10’02,3`). Input accepts what the server accepts
// (autoconf/schemes/timecode.py): `10’02`, `10'02`, `10:02`, `1:15:10`, `75:10`, `1h15’10`.

import { timecode } from "../format.js";

/** Milliseconds as the researchers write them, tenths of a second when there are any. */
export function formatMs(ms) {
  const whole = timecode(Math.floor(ms / 1000));
  const tenths = Math.floor((ms % 1000) / 100);
  return tenths ? `${whole},${tenths}` : whole;
}

/** `10’02` -> 602000; undefined when the text is not a time. */
export function parseTime(text) {
  const value = String(text).trim().replace(/[\u2019\u2018'′]/g, ":").replace(/\s+/g, "");
  let match = value.match(/^(\d+)h(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,3}))?)?$/i);
  if (match) {
    const [, h, m, s = "0", f = ""] = match;
    if (+m >= 60 || +s >= 60) return undefined;
    return ((+h * 60 + +m) * 60 + +s) * 1000 + fraction(f);
  }
  match = value.match(/^(?:(\d+):)?(\d+):(\d{1,2})(?:[.,](\d{1,3}))?$/);
  if (match) {
    const [, h, m, s, f = ""] = match;
    if (+s >= 60 || (h !== undefined && +m >= 60)) return undefined;
    return ((+(h || 0) * 60 + +m) * 60 + +s) * 1000 + fraction(f);
  }
  match = value.match(/^(\d+)(?:[.,](\d{1,3}))?$/);
  if (match) return +match[1] * 1000 + fraction(match[2] || "");
  return undefined;
}

function fraction(digits) {
  return digits ? Math.round(Number(`0.${digits}`) * 1000) : 0;
}
