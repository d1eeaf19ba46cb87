// Small helpers every part of the page uses: finding elements, wording sizes, dates and errors.
import { ApiError } from "./api.js";

export const $ = (selector, root = document) => root.querySelector(selector);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function describe(error) {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return error?.message || String(error);
}

export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An ISO 8601 time for people. One without an offset (EXIF's DateTimeOriginal) is the camera's
 * wall-clock time and is shown as it is, not moved to another time zone. */
export function humanTime(iso) {
  if (!iso) return "";
  const time = new Date(iso); // ISO date-times without an offset are read as local time
  return Number.isNaN(time.getTime()) ? iso : DATE_TIME.format(time);
}

/** Say something to screen readers once (the live region), without repeating progress ticks. */
export function announce(message) {
  $("#announcer").textContent = message;
}
