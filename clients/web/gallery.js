// The gallery: a card per image (newest first, a page at a time), each READY one with its
// thumbnail (placeholder painted underneath), Open, Share and Delete.
import { ApiError } from "./api.js";
import { placeholderUrl } from "./thumbhash.js";
import { $, announce, describe, humanSize } from "./ui.js";
import { srcsetOf } from "./viewer.js";

const THUMBNAILS = ["256", "512", "1024"];
const PAGE_SIZE = 24;
// The gallery's columns are 200–320 px wide; one column on narrow phones.
const THUMB_SIZES = "(max-width: 420px) 100vw, (max-width: 800px) 50vw, 320px";

const cards = new Map(); // image id -> {image, element, fetchedAt}
let nextCursor = null;
let api = null;
// What the rest of the page hears: set by createGallery.
const hooks = {
  onView: () => {},
  onShare: () => {},
  onChanged: () => {}, // an image changed or went away: the viewer shows the news
  onRemoved: () => {}, // an image went away: stop following it
  onUsageChanged: () => {},
  onError: () => {},
};

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
  button.addEventListener("click", () => hooks.onView(image.id));
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

function upsertCard(image, { atTop = true } = {}) {
  let entry = cards.get(image.id);
  if (entry) {
    const changed = entry.image.status !== image.status || entry.image.updated_at !== image.updated_at;
    entry.image = image;
    entry.fetchedAt = Date.now();
    if (changed) {
      renderCard(entry);
      hooks.onChanged(image.id);
    }
    return;
  }
  const element = $("#card").content.firstElementChild.cloneNode(true);
  entry = { image, element, fetchedAt: Date.now() };
  cards.set(image.id, entry);
  $(".delete", element).addEventListener("click", () => deleteCard(image.id));
  $(".share", element).addEventListener("click", () => hooks.onShare(cards.get(image.id).image));
  renderCard(entry);
  if (atTop) $("#gallery").prepend(element);
  else $("#gallery").append(element);
  updateEmpty();
}

function removeCard(id) {
  cards.get(id)?.element.remove();
  cards.delete(id);
  updateEmpty();
  hooks.onChanged(id);
  hooks.onRemoved(id);
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
    hooks.onChanged(id);
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
      hooks.onError(`Could not delete “${name}”: ${describe(error)}`);
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
  hooks.onUsageChanged();
}

async function loadPage({ reset }) {
  const more = $("#load-more");
  more.disabled = true;
  try {
    const page = await api.listImages(reset ? null : nextCursor, PAGE_SIZE);
    if (reset) clear();
    for (const image of page.items) upsertCard(image, { atTop: false });
    nextCursor = page.next_cursor;
    more.hidden = !nextCursor;
    updateEmpty();
    hooks.onUsageChanged();
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      hooks.onError(`Could not load your images: ${describe(error)}`);
    }
  } finally {
    more.disabled = false;
  }
}

function clear() {
  cards.clear();
  nextCursor = null;
  $("#gallery").replaceChildren();
  $("#load-more").hidden = true;
}

/** The gallery of `theApi`'s images; `on` sets the hooks above. */
export function createGallery(theApi, on) {
  api = theApi;
  Object.assign(hooks, on);
  $("#refresh").addEventListener("click", () => loadPage({ reset: true }));
  $("#load-more").addEventListener("click", () => loadPage({ reset: false }));
  return {
    upsert: upsertCard,
    remove: removeCard,
    has: (id) => cards.has(id),
    highlight(id) {
      const element = cards.get(id)?.element;
      if (!element) return;
      element.classList.remove("highlight");
      void element.offsetWidth; // restart the animation
      element.classList.add("highlight");
    },
    loadPage,
    clear,
    readyImages,
    focusCard,
  };
}
