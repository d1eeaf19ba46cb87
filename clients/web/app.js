// The upload page: sign-in, uploads straight to S3 with progress and live status, the gallery,
// the viewer and share links.
import { ApiError, createApi, uploadToStorage } from "./api.js";
import * as auth from "./auth.js";
import { createSharing } from "./shares.js";
import { placeholderUrl } from "./thumbhash.js";
import { $, announce, describe, humanSize, sleep } from "./ui.js";
import { createViewer, srcsetOf } from "./viewer.js";

const FINAL = new Set(["READY", "REJECTED", "FAILED"]);
const THUMBNAILS = ["256", "512", "1024"];
const PAGE_SIZE = 24;
const POLL_DELAYS_MS = [400, 600, 800, 1000, 1500, 2000, 3000];
const POLL_GIVE_UP_MS = 3 * 60 * 1000;
// The gallery's columns are 200–320 px wide; one column on narrow phones.
const THUMB_SIZES = "(max-width: 420px) 100vw, (max-width: 800px) 50vw, 320px";

let config = null;
let api = null;
let viewer = null;
let sharing = null;
const cards = new Map(); // image id -> {image, element, fetchedAt}
let nextCursor = null;

// ------------------------------------------------------------------ messages

function showNotice(message) {
  $("#notice-text").textContent = message;
  $("#notice").hidden = false;
}

function clearNotice() {
  $("#notice").hidden = true;
  $("#notice-text").textContent = "";
}

// ------------------------------------------------------------------ configuration & sign-in

async function loadConfig() {
  let response;
  try {
    response = await fetch("config.json", { cache: "no-store" });
  } catch (error) {
    throw new Error(`config.json could not be loaded (${error.message}).`);
  }
  if (!response.ok) throw new Error(`config.json could not be loaded (HTTP ${response.status}).`);
  const loaded = await response.json();
  return { apiUrl: loaded.apiUrl || location.origin, auth: loaded.auth || { mode: "token" } };
}

function showSignedOut() {
  $("#loading").hidden = true;
  $("#app").hidden = true;
  $("#account").hidden = true;
  $("#sign-in").hidden = false;
  const mode = config.auth.mode;
  $("#local-form").hidden = mode !== "local";
  $("#token-form").hidden = mode !== "token";
  $("#cognito-box").hidden = mode !== "cognito";
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  cards.clear();
  $("#gallery").replaceChildren();
  $("#uploads").replaceChildren();
}

function showSignedIn(session) {
  $("#loading").hidden = true;
  $("#sign-in").hidden = true;
  $("#who").textContent = session.name;
  $("#account").hidden = false;
  $("#app").hidden = false;
  loadPage({ reset: true });
}

function signedIn() {
  const session = auth.currentSession();
  if (!session) return false;
  clearNotice();
  showSignedIn(session);
  return true;
}

function onUnauthorized(error) {
  auth.forgetToken();
  showSignedOut();
  showNotice(`Your sign-in was refused or has expired (${error.message}). Please sign in again.`);
}

async function onLocalSignIn(event) {
  event.preventDefault();
  const button = $("button[type=submit]", event.target);
  button.disabled = true;
  try {
    const { token } = await api.localToken($("#local-name").value.trim());
    auth.saveToken(token);
    if (signedIn()) $("#file-input").focus();
  } catch (error) {
    showNotice(`Sign-in failed: ${describe(error)}`);
  } finally {
    button.disabled = false;
  }
}

function onTokenSignIn(event) {
  event.preventDefault();
  try {
    auth.saveToken($("#token-input").value);
    $("#token-input").value = "";
    if (signedIn()) $("#file-input").focus();
  } catch (error) {
    showNotice(error.message);
  }
}

function signOut() {
  auth.forgetToken();
  if (config.auth.mode === "cognito") {
    location.assign(auth.cognitoSignOutUrl(config.auth.cognito));
    return;
  }
  clearNotice();
  showSignedOut();
  const first = $("#sign-in input, #sign-in textarea, #sign-in button:not([hidden])");
  first?.focus();
}

// ------------------------------------------------------------------ uploads

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

function addUploadRow(file) {
  const row = $("#upload-row").content.firstElementChild.cloneNode(true);
  $(".upload-name", row).textContent = file.name;
  const bar = $("progress", row);
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  $("#uploads").prepend(row);
  return {
    progress(fraction) {
      bar.value = Math.round(fraction * 1000) / 10;
    },
    state(state, text) {
      row.dataset.state = state;
      $(".upload-status", row).textContent = text;
    },
  };
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

/** Poll the image until it is READY, REJECTED or FAILED; `onUpdate` sees every answer. */
async function pollUntilFinal(id, onUpdate) {
  const started = Date.now();
  for (let attempt = 0; Date.now() - started < POLL_GIVE_UP_MS; attempt += 1) {
    await sleep(POLL_DELAYS_MS[Math.min(attempt, POLL_DELAYS_MS.length - 1)]);
    const image = await api.getImage(id);
    onUpdate(image);
    if (FINAL.has(image.status)) return image;
  }
  return null;
}

async function uploadFile(file) {
  const row = addUploadRow(file);
  row.state("starting", "Asking for an upload slot…");
  let image;
  try {
    const contentType = await contentTypeOf(file);
    const created = await api.createUpload({ filename: file.name, contentType, size: file.size });
    image = created.image;
    upsertCard(image, { atTop: true });
    row.state("uploading", "Uploading…");
    await uploadToStorage(created.upload, file, (fraction) => {
      row.progress(fraction);
      row.state("uploading", `Uploading… ${Math.floor(fraction * 100)}%`);
    });
  } catch (error) {
    row.state("error", `Not uploaded: ${describe(error)}`);
    announce(`${file.name} was not uploaded: ${describe(error)}`);
    if (image) refreshCard(image.id);
    return;
  }
  row.state("checking", statusText(image));
  announce(`${file.name} uploaded; checking it.`);
  try {
    const final = await pollUntilFinal(image.id, (current) => {
      row.state(current.status.toLowerCase(), statusText(current));
      upsertCard(current, { atTop: true });
    });
    if (!final) {
      row.state("processing", "Still processing. It will show in the gallery when ready (Refresh).");
    } else {
      announce(`${file.name}: ${statusText(final)}`);
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      row.state("deleted", "Deleted.");
    } else {
      row.state("error", `Could not follow its status: ${describe(error)}`);
    }
  }
}

function uploadFiles(fileList) {
  const files = [...fileList];
  if (!files.length || !api || !auth.currentSession()) return;
  clearNotice();
  announce(`Uploading ${files.length} file${files.length === 1 ? "" : "s"}.`);
  for (const file of files) uploadFile(file);
}

// ------------------------------------------------------------------ gallery

/** The card's thumbnail: a button that opens the viewer, its placeholder painted underneath. */
function pictureOf(entry) {
  const { image } = entry;
  const variants = image.variants;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "view";
  button.setAttribute("aria-label", `View ${image.filename}`);
  const placeholder = placeholderUrl(image.placeholder);
  if (placeholder) button.style.backgroundImage = `url("${placeholder}")`;
  const img = document.createElement("img");
  img.alt = image.filename;
  img.decoding = "async";
  img.loading = "lazy";
  const fallback = variants["512"] || variants["256"] || variants.original;
  const srcset = srcsetOf(variants, THUMBNAILS);
  if (srcset) {
    img.sizes = THUMB_SIZES;
    img.srcset = srcset;
  }
  img.src = fallback.url;
  img.width = fallback.width;
  img.height = fallback.height;
  // The signed URLs last a whole window; one that expired meanwhile is replaced once.
  img.addEventListener("error", () => refreshCard(image.id, { onlyIfStale: true }), { once: true });
  button.addEventListener("click", () => viewer.open(image.id));
  button.append(img);
  return button;
}

function placeholderOf(image) {
  const badge = document.createElement("span");
  badge.className = "badge";
  badge.textContent = {
    PENDING: "Waiting for upload…",
    PROCESSING: "Processing…",
    REJECTED: "Rejected",
    FAILED: "Failed",
    READY: "No preview",
  }[image.status];
  return badge;
}

function renderCard(entry) {
  const { image, element } = entry;
  element.dataset.id = image.id;
  element.dataset.status = image.status;
  const ready = image.status === "READY" && image.variants.original;
  const thumb = $(".thumb", element);
  thumb.replaceChildren(ready ? pictureOf(entry) : placeholderOf(image));
  $(".card-name", element).textContent = image.filename;
  $(".card-name", element).title = image.filename;
  const meta = [humanSize(image.size)];
  if (image.width) meta.unshift(`${image.width}×${image.height}`, image.format);
  $(".card-meta", element).textContent = meta.join(" · ");
  const reason = $(".card-reason", element);
  reason.textContent = image.error ? `${image.error.message} (${image.error.code})` : "";
  reason.hidden = !image.error;
  const open = $(".open", element);
  open.hidden = !ready;
  $(".share", element).hidden = !ready;
  if (ready) {
    open.href = image.variants.original.url;
    open.setAttribute("aria-label", `Open original of ${image.filename}`);
    $(".share", element).setAttribute("aria-label", `Share ${image.filename}`);
  }
  $(".delete", element).setAttribute("aria-label", `Delete ${image.filename}`);
}

function upsertCard(image, { atTop }) {
  let entry = cards.get(image.id);
  if (entry) {
    const changed = entry.image.status !== image.status || entry.image.updated_at !== image.updated_at;
    entry.image = image;
    entry.fetchedAt = Date.now();
    if (changed) {
      renderCard(entry);
      viewer.update(image.id);
    }
    return;
  }
  const element = $("#card").content.firstElementChild.cloneNode(true);
  entry = { image, element, fetchedAt: Date.now() };
  cards.set(image.id, entry);
  $(".delete", element).addEventListener("click", () => deleteCard(image.id));
  $(".share", element).addEventListener("click", () => sharing.open(cards.get(image.id).image));
  renderCard(entry);
  if (atTop) $("#gallery").prepend(element);
  else $("#gallery").append(element);
  updateEmpty();
}

function removeCard(id) {
  cards.get(id)?.element.remove();
  cards.delete(id);
  updateEmpty();
  viewer.update(id);
}

/** The READY images in gallery order: what the viewer moves through. */
function readyImages() {
  return [...document.querySelectorAll("#gallery li.card[data-status=READY]")]
    .map((element) => cards.get(element.dataset.id)?.image)
    .filter((image) => image?.variants.original);
}

function focusCard(id) {
  const element = cards.get(id)?.element;
  ($(".view", element || document) || $("#gallery-title")).focus();
}

function updateEmpty() {
  $("#gallery-empty").hidden = cards.size > 0;
}

/** Fetch the image again (the URLs of a new window); a 404 means it is gone. */
async function refreshCard(id, { onlyIfStale = false } = {}) {
  const entry = cards.get(id);
  if (!entry || (onlyIfStale && Date.now() - entry.fetchedAt < 30_000)) return null;
  try {
    const image = await api.getImage(id);
    entry.image = image;
    entry.fetchedAt = Date.now();
    renderCard(entry);
    viewer.update(id);
    return image;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) removeCard(id);
    return null;
  }
}

async function deleteCard(id) {
  const entry = cards.get(id);
  if (!entry) return;
  const name = entry.image.filename;
  if (!window.confirm(`Delete “${name}”? The original and its thumbnails are removed for good.`)) return;
  const button = $(".delete", entry.element);
  button.disabled = true;
  button.textContent = "Deleting…";
  try {
    await api.deleteImage(id);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) {
      showNotice(`Could not delete “${name}”: ${describe(error)}`);
      button.disabled = false;
      button.textContent = "Delete";
      return;
    }
  }
  // Keep keyboard focus in the gallery: on the next card, else the previous, else the heading.
  const neighbour = entry.element.nextElementSibling || entry.element.previousElementSibling;
  removeCard(id);
  (neighbour ? $(".delete", neighbour) : $("#gallery-title")).focus();
  announce(`Deleted ${name}.`);
}

async function loadPage({ reset }) {
  const more = $("#load-more");
  more.disabled = true;
  try {
    const page = await api.listImages(reset ? null : nextCursor, PAGE_SIZE);
    if (reset) {
      cards.clear();
      $("#gallery").replaceChildren();
    }
    for (const image of page.items) upsertCard(image, { atTop: false });
    nextCursor = page.next_cursor;
    more.hidden = !nextCursor;
    updateEmpty();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      showNotice(`Could not load your images: ${describe(error)}`);
    }
  } finally {
    more.disabled = false;
  }
}

// ------------------------------------------------------------------ wiring

function wireDragAndDrop() {
  const zone = $("#drop-zone");
  let leaveTimer;
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  // The whole window takes drops: a file dropped beside the zone must not replace the page.
  window.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = $("#app").hidden ? "none" : "copy";
    zone.classList.add("dragging");
    clearTimeout(leaveTimer);
    leaveTimer = setTimeout(() => zone.classList.remove("dragging"), 150);
  });
  window.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    zone.classList.remove("dragging");
    if (!$("#app").hidden) uploadFiles(event.dataTransfer.files);
  });
}

function wire() {
  $("#notice-close").addEventListener("click", clearNotice);
  $("#local-form").addEventListener("submit", onLocalSignIn);
  $("#token-form").addEventListener("submit", onTokenSignIn);
  $("#cognito-sign-in").addEventListener("click", () =>
    auth.startCognitoSignIn(config.auth.cognito).catch((error) => showNotice(error.message)),
  );
  $("#sign-out").addEventListener("click", signOut);
  $("#refresh").addEventListener("click", () => loadPage({ reset: true }));
  $("#load-more").addEventListener("click", () => loadPage({ reset: false }));
  const input = $("#file-input");
  input.addEventListener("change", () => {
    uploadFiles(input.files);
    input.value = ""; // choosing the same file again is a new upload
  });
  wireDragAndDrop();
}

async function main() {
  wire();
  try {
    config = await loadConfig();
  } catch (error) {
    $("#loading").hidden = true;
    showNotice(`This page cannot start: ${error.message}`);
    return;
  }
  api = createApi(config.apiUrl, () => auth.currentSession()?.token, onUnauthorized);
  sharing = createSharing({ api });
  viewer = createViewer({ images: readyImages, focusCard, onShare: (image) => sharing.open(image) });
  if (config.auth.mode === "cognito") {
    try {
      await auth.finishCognitoSignIn(config.auth.cognito);
    } catch (error) {
      showNotice(error.message);
    }
  }
  if (!signedIn()) showSignedOut();
}

main();
