// Uploads from the page, at most 3 at a time. Each file is hashed first: the API answers bytes
// the user already has with that image (a duplicate, nothing sent), and S3 and validation refuse
// other bytes than the hashed ones. Big files go in parts and survive a reload: the slot and the
// file's fingerprint are remembered, and choosing the same file again sends only the parts S3
// does not have. Any upload can be cancelled or retried; all are followed to their final status
// together (status.js).
import { ApiError, putPart, uploadToStorage } from "./api.js";
import { sha256File } from "./sha256.js";
import { $, announce, describe, humanSize } from "./ui.js";

export const MAX_ACTIVE = 3;
// Above this a file goes in parts (resumable); the API takes POST/PUT up to MAX_UPLOAD_BYTES
// (25 MiB by default) and parts up to MaxMultipartUploadBytes (100 MiB).
export const MULTIPART_FROM_BYTES = 16 * 1024 * 1024;
const STORE_KEY = "shoebox.uploads";
const CREATE_TRIES = 5; // while the API answers 429 (too many slots open), waiting as it says
const RESET = "reset"; // the reason uploads stop when the user signs out: nothing to say

// ------------------------------------------------------------------ remembered slots

/** Multipart slots not finished yet, in localStorage: no token, only ids and fingerprints. */
const remembered = {
  all() {
    try {
      const list = JSON.parse(localStorage.getItem(STORE_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch {
      return [];
    }
  },
  mine: (owner) => remembered.all().filter((entry) => entry.owner === owner),
  find: (owner, print) =>
    remembered
      .mine(owner)
      .find((entry) => ["name", "size", "lastModified", "sha256"].every((key) => entry[key] === print[key])),
  add(entry) {
    const others = remembered.all().filter((each) => each.imageId !== entry.imageId);
    localStorage.setItem(STORE_KEY, JSON.stringify([...others, entry]));
  },
  forget(imageId) {
    localStorage.setItem(STORE_KEY, JSON.stringify(remembered.all().filter((each) => each.imageId !== imageId)));
  },
};

const fingerprintOf = (file, sha256) => ({
  name: file.name,
  size: file.size,
  lastModified: file.lastModified,
  sha256,
});

// ------------------------------------------------------------------ helpers

/** The declared type: the browser's (from the name), else the bytes for types it may not know. */
async function contentTypeOf(file) {
  if (file.type) return file.type;
  const head = new Uint8Array(await file.slice(0, 32).arrayBuffer());
  const text = (start, end) => String.fromCharCode(...head.slice(start, end));
  if (text(4, 8) === "ftyp") {
    const brand = text(8, 12);
    if (["avif", "avis"].includes(brand)) return "image/avif";
    if (["heic", "heix", "hevc", "hevx", "heim", "heis"].includes(brand)) return "image/heic";
    if (["mif1", "msf1"].includes(brand)) return "image/heif";
  }
  if (text(0, 4) === "RIFF" && text(8, 12) === "WEBP") return "image/webp";
  const extension = file.name.split(".").pop().toLowerCase();
  if (["heic", "heif", "avif", "webp"].includes(extension)) return `image/${extension}`;
  return "application/octet-stream"; // the API answers which types it takes
}

function statusText(image) {
  switch (image.status) {
    case "PENDING":
      return "Uploaded. Checking the file…";
    case "PROCESSING":
      return "Making thumbnails…";
    case "READY":
      return `Ready · ${image.width}×${image.height}`;
    default:
      return `${image.status === "REJECTED" ? "Rejected" : "Failed"}: ${image.error?.message || "no reason given"} (${image.error?.code || image.status})`;
  }
}

/** Wait `ms`, or less when `signal` aborts (then throw its reason). */
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

const percent = (fraction) => `${Math.floor(fraction * 100)}%`;

/** The button just clicked was hidden: keyboard focus goes to the row's Retry, not the page top. */
function keepFocus(row) {
  const lost = document.activeElement === document.body || row.element.contains(document.activeElement);
  if (lost) $(".retry", row.element).focus();
}

// ------------------------------------------------------------------ rows

function newRow(name) {
  const element = $("#upload-row").content.firstElementChild.cloneNode(true);
  $(".upload-name", element).textContent = name;
  $(".upload-name", element).title = name;
  const bar = $("progress", element);
  bar.setAttribute("aria-label", `Upload of ${name}`);
  for (const button of element.querySelectorAll("button")) {
    button.setAttribute("aria-label", `${button.textContent} ${name}`);
  }
  $("#uploads").prepend(element);
  return {
    element,
    progress(fraction) {
      bar.value = Math.round(fraction * 1000) / 10;
    },
    state(state, text) {
      element.dataset.state = state;
      $(".upload-status", element).textContent = text;
    },
    /** Which buttons show: any of "cancel", "retry", "discard". */
    actions(...shown) {
      for (const kind of ["cancel", "retry", "discard"]) $(`.${kind}`, element).hidden = !shown.includes(kind);
    },
  };
}

// ------------------------------------------------------------------ the uploader

/**
 * `api`: the API client; `owner()`: who is signed in, to which API (remembered slots are theirs
 * only); `gallery`: its cards; `follower`: status.js; `onFinal()`: an upload ended (the usage
 * changed).
 */
export function createUploader({ api, owner, gallery, follower, onFinal }) {
  const queue = [];
  const jobs = new Set();
  let active = 0;
  const interrupted = new Map(); // image id -> row of a remembered slot, until resumed or discarded

  function pump() {
    while (active < MAX_ACTIVE && queue.length) {
      const job = queue.shift();
      active += 1;
      run(job).finally(() => {
        active -= 1;
        pump();
      });
    }
  }

  function enqueue(job) {
    job.controller = new AbortController();
    job.imageId = null;
    job.sent = false; // every byte is with S3: nothing left to cancel
    job.row.progress(0);
    job.row.state("queued", "Waiting for its turn…");
    job.row.actions("cancel");
    jobs.add(job);
    queue.push(job);
    pump();
  }

  async function createSlot(job, body) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await api.createUpload(body);
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 429) || attempt === CREATE_TRIES) throw error;
        const seconds = Math.max(1, error.retryAfter ?? 5);
        job.row.state("waiting", `${error.message}. Trying again in ${seconds} s…`);
        await pause(seconds * 1000, job.controller.signal);
      }
    }
  }

  /** A remembered slot for these bytes, where S3 stands with it; null when there is none. */
  async function resumable(job, print) {
    const entry = remembered.find(owner(), print);
    // The same file chosen twice in a row: the first is still sending those parts, not resumable.
    if (!entry || [...jobs].some((other) => other !== job && other.imageId === entry.imageId)) return null;
    try {
      const found = await api.getUpload(entry.imageId);
      interrupted.get(entry.imageId)?.element.remove();
      interrupted.delete(entry.imageId);
      return found;
    } catch (error) {
      if (!(error instanceof ApiError && [404, 409].includes(error.status))) throw error;
      remembered.forget(entry.imageId); // gone, expired, or its bytes arrived: start afresh
      interrupted.get(entry.imageId)?.element.remove();
      interrupted.delete(entry.imageId);
      return null;
    }
  }

  async function sendParts(job, slot) {
    const { file } = job;
    const signal = job.controller.signal;
    const etags = new Map(slot.received.map((part) => [part.number, part.etag]));
    let done = slot.received.reduce((sum, part) => sum + part.size, 0);
    let upload = slot.upload;
    const total = upload.parts.length + slot.received.length;
    const before = slot.received.length ? `; ${slot.received.length} sent before it was interrupted` : "";
    const show = (bytes) => {
      const part = Math.min(etags.size + 1, total);
      job.row.progress(bytes / file.size);
      job.row.state("uploading", `Uploading… ${percent(bytes / file.size)} (part ${part} of ${total}${before})`);
    };
    show(done);
    for (let renewals = 0; ; renewals += 1) {
      try {
        for (const part of upload.parts.filter((each) => !etags.has(each.number))) {
          const start = (part.number - 1) * upload.part_size;
          const blob = file.slice(start, Math.min(start + upload.part_size, file.size));
          const etag = await putPart(part.url, blob, (sent) => show(done + Math.min(sent, blob.size)), signal);
          etags.set(part.number, etag);
          done += blob.size;
          show(done);
        }
        break;
      } catch (error) {
        // Part URLs expire (15 minutes): a slow upload gets fresh ones and goes on.
        const expired = error.status === 403 && Date.now() >= Date.parse(upload.expires_at) - 30_000;
        if (!expired || renewals === 3) throw error;
        upload = (await api.getUpload(job.imageId)).upload;
      }
    }
    job.row.state("completing", "Putting the parts together…");
    const parts = [...etags].sort(([a], [b]) => a - b).map(([number, etag]) => ({ number, etag }));
    await api.completeUpload(job.imageId, parts);
  }

  async function run(job) {
    const { file, row } = job;
    const signal = job.controller.signal;
    let image;
    try {
      row.state("hashing", "Reading the file…");
      const sha256 = await sha256File(file, {
        signal,
        onProgress: (fraction) => row.state("hashing", `Reading the file… ${percent(fraction)}`),
      });
      const print = fingerprintOf(file, sha256);
      let slot = await resumable(job, print);
      signal.throwIfAborted();
      if (slot) {
        const sent = slot.received.length;
        row.state("uploading", `Resuming: ${sent} of ${sent + slot.upload.parts.length} parts were sent before.`);
      } else {
        row.state("starting", "Asking for an upload slot…");
        const multipart = file.size > MULTIPART_FROM_BYTES;
        const created = await createSlot(job, {
          filename: file.name,
          contentType: await contentTypeOf(file),
          size: file.size,
          sha256,
          method: multipart ? "MULTIPART" : undefined,
        });
        if (created.duplicate) {
          job.sent = true;
          finish(job);
          row.progress(1);
          row.state("duplicate", `Already in your images (${created.image.filename}): nothing sent.`);
          row.actions();
          gallery.upsert(created.image, { atTop: false });
          gallery.highlight(created.image.id);
          announce(`${file.name} is already in your images.`);
          return;
        }
        slot = { image: created.image, upload: created.upload, received: [] };
        if (multipart) remembered.add({ owner: owner(), imageId: created.image.id, ...print });
      }
      image = slot.image;
      job.imageId = image.id;
      gallery.upsert(image);
      signal.throwIfAborted();
      if (slot.upload.method === "MULTIPART") {
        await sendParts(job, slot);
      } else {
        row.state("uploading", "Uploading…");
        await uploadToStorage(
          slot.upload,
          file,
          (fraction) => {
            row.progress(fraction);
            row.state("uploading", `Uploading… ${percent(fraction)}`);
          },
          signal,
        );
      }
      job.sent = true;
      remembered.forget(image.id);
    } catch (error) {
      if (signal.aborted) {
        if (signal.reason !== RESET) await cancelled(job);
        return;
      }
      finish(job);
      row.state("error", `Not uploaded: ${describe(error)}`);
      row.actions("retry");
      announce(`${file.name} was not uploaded: ${describe(error)}`);
      return;
    }
    finish(job);
    row.actions();
    row.state("checking", statusText(image));
    announce(`${file.name} uploaded; checking it.`);
    const final = await follower.follow(image.id, file.size, (current) => {
      row.state(current.status.toLowerCase(), statusText(current));
      gallery.upsert(current);
    });
    if (!final) {
      if (!gallery.has(image.id)) row.state("deleted", "Deleted.");
      return;
    }
    if (final.status === "PENDING" || final.status === "PROCESSING") {
      row.state("processing", "Still processing. It will show in the gallery when ready (Refresh).");
      return;
    }
    announce(`${file.name}: ${statusText(final)}`);
    onFinal();
  }

  function finish(job) {
    jobs.delete(job);
  }

  /** After a cancel: the slot goes too, unless its bytes had all arrived already. */
  async function cancelled(job) {
    finish(job);
    const { row } = job;
    row.actions();
    if (job.imageId) {
      row.state("cancelling", "Cancelling…");
      try {
        await api.cancelUpload(job.imageId);
      } catch (error) {
        if (error instanceof ApiError && error.code === "NOT_PENDING") {
          row.state("checking", "Too late to cancel: the file had arrived. Delete it from the gallery.");
          return;
        }
        if (!(error instanceof ApiError && error.status === 404)) {
          row.state("error", `Could not cancel: ${describe(error)}`);
          row.actions("retry");
          return;
        }
      }
      remembered.forget(job.imageId);
      gallery.remove(job.imageId);
    }
    row.state("cancelled", "Cancelled.");
    row.actions("retry");
    keepFocus(row);
    announce(`${job.file.name}: upload cancelled.`);
    onFinal();
  }

  function cancel(job) {
    const queued = queue.indexOf(job);
    if (queued >= 0) {
      queue.splice(queued, 1);
      finish(job);
      job.row.state("cancelled", "Cancelled.");
      job.row.actions("retry");
      keepFocus(job.row);
      return;
    }
    if (!job.sent) job.controller.abort(new DOMException("The upload was cancelled.", "AbortError"));
  }

  function add(file) {
    const job = { file, row: newRow(file.name) };
    $(".cancel", job.row.element).addEventListener("click", () => cancel(job));
    $(".retry", job.row.element).addEventListener("click", () => enqueue(job));
    enqueue(job);
  }

  /** Rows for the remembered slots of whoever signed in: how far each got, and how to go on. */
  async function showInterrupted() {
    for (const entry of remembered.mine(owner())) {
      if (interrupted.has(entry.imageId)) continue;
      const row = newRow(entry.name);
      interrupted.set(entry.imageId, row);
      row.state("interrupted", "Interrupted. Choose the same file again to resume it.");
      row.actions("discard");
      $(".discard", row.element).addEventListener("click", () => discard(entry, row));
      try {
        const { received } = await api.getUpload(entry.imageId);
        const sent = received.reduce((sum, part) => sum + part.size, 0);
        row.progress(sent / entry.size);
        row.state(
          "interrupted",
          `Interrupted after ${humanSize(sent)} of ${humanSize(entry.size)}. Choose the same file again to resume it.`,
        );
      } catch (error) {
        if (error instanceof ApiError && [404, 409].includes(error.status)) {
          remembered.forget(entry.imageId); // expired, cancelled, or arrived after all
          row.element.remove();
          interrupted.delete(entry.imageId);
        }
      }
    }
  }

  async function discard(entry, row) {
    row.actions();
    try {
      await api.cancelUpload(entry.imageId);
    } catch (error) {
      if (!(error instanceof ApiError && [404, 409].includes(error.status))) {
        row.state("interrupted", `Could not discard it: ${describe(error)}`);
        row.actions("discard");
        return;
      }
    }
    remembered.forget(entry.imageId);
    interrupted.delete(entry.imageId);
    gallery.remove(entry.imageId);
    row.element.remove();
    onFinal();
  }

  return {
    add(files) {
      for (const file of files) add(file);
      announce(`Uploading ${files.length} file${files.length === 1 ? "" : "s"}.`);
    },
    showInterrupted,
    /** Signed out: stop everything quietly (a remembered slot can still be resumed later). */
    reset() {
      queue.length = 0;
      for (const job of jobs) job.controller.abort(RESET);
      jobs.clear();
      interrupted.clear();
      follower.clear();
    },
  };
}
