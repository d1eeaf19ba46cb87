// The viewer: one READY image at a time in a modal dialog. Its placeholder (the ThumbHash) is
// painted at once, the full image fades in over it when loaded; ← and → move through the
// gallery's READY images; the details are what the API vouches for (size, pixels, format, when
// it was taken), never any other metadata.
import { placeholderUrl } from "./thumbhash.js";
import { $, humanSize, humanTime } from "./ui.js";

// Every variant as a srcset candidate: the browser takes the smallest that fills the stage.
const CANDIDATES = ["256", "512", "1024", "original"];
const STAGE_SIZES = "(max-width: 1100px) 95vw, 1060px";

const srcsetUrl = (url) => url.replace(/,/g, "%2C").replace(/ /g, "%20");

/** `srcset` of an Image's variants (commas and spaces kept out of the URLs, as srcset needs). */
export function srcsetOf(variants, names) {
  return names
    .filter((name) => variants[name])
    .map((name) => `${srcsetUrl(variants[name].url)} ${variants[name].width}w`)
    .join(", ");
}

/**
 * `images()` gives the gallery's READY images in order; `focusCard(id)` puts keyboard focus back
 * on an image's card when the viewer closes; `onShare(image)` opens its share links.
 */
export function createViewer({ images, focusCard, onShare }) {
  const dialog = $("#viewer");
  const stage = $("#viewer-stage");
  let currentId = null;

  function neighbours() {
    const list = images();
    const index = list.findIndex((image) => image.id === currentId);
    return { list, index };
  }

  function details(image) {
    const rows = [
      ["Dimensions", `${image.width} × ${image.height} px`],
      ["Format", image.format || image.content_type],
      ["File size", humanSize(image.size)],
      ["Taken", image.taken_at ? humanTime(image.taken_at) : "not recorded"],
      ["Uploaded", humanTime(image.created_at)],
    ];
    return rows.map(([term, value]) => {
      const pair = document.createElement("div");
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = document.createElement("dd");
      dd.textContent = value;
      pair.append(dt, dd);
      return pair;
    });
  }

  function paint(image) {
    // A new pair of <img> for each image: a late load of the previous one cannot show here.
    stage.replaceChildren();
    stage.classList.remove("loaded");
    stage.style.aspectRatio = `${image.width} / ${image.height}`;
    stage.style.width = `min(100%, calc(68vh * ${image.width / image.height}))`;
    const placeholder = placeholderUrl(image.placeholder);
    if (placeholder) {
      const blurred = document.createElement("img");
      blurred.className = "viewer-placeholder";
      blurred.alt = "";
      blurred.src = placeholder;
      stage.append(blurred);
    }
    const full = document.createElement("img");
    full.className = "viewer-image";
    full.alt = image.filename;
    full.decoding = "async";
    full.addEventListener("load", () => stage.classList.add("loaded"), { once: true });
    full.sizes = STAGE_SIZES;
    full.srcset = srcsetOf(image.variants, CANDIDATES);
    full.src = (image.variants["1024"] || image.variants.original).url;
    stage.append(full);
  }

  function show(image) {
    currentId = image.id;
    const { list, index } = neighbours();
    $("#viewer-title").textContent = image.filename;
    $("#viewer-position").textContent = index >= 0 ? `${index + 1} of ${list.length}` : "";
    $("#viewer-prev").disabled = index <= 0;
    $("#viewer-next").disabled = index < 0 || index >= list.length - 1;
    const open = $("#viewer-open");
    open.href = image.variants.original.url;
    open.setAttribute("aria-label", `Open original of ${image.filename}`);
    paint(image);
    $("#viewer-details").replaceChildren(...details(image));
  }

  function step(delta) {
    const { list, index } = neighbours();
    const next = list[index + delta];
    if (index >= 0 && next) show(next);
  }

  function open(id) {
    const image = images().find((candidate) => candidate.id === id);
    if (!image) return;
    show(image);
    if (!dialog.open) dialog.showModal();
    $("#viewer-close").focus();
  }

  dialog.addEventListener("keydown", (event) => {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
    if (!(event.key in moves)) return;
    event.preventDefault();
    const { list, index } = neighbours();
    const delta = moves[event.key];
    if (Number.isFinite(delta)) step(delta);
    else if (list.length) step((delta < 0 ? 0 : list.length - 1) - index);
  });
  // A click on the backdrop (the dialog itself, outside its body) closes it.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  dialog.addEventListener("close", () => {
    stage.replaceChildren(); // stops a download still under way
    if (currentId) focusCard(currentId);
    currentId = null;
  });
  $("#viewer-prev").addEventListener("click", () => step(-1));
  $("#viewer-next").addEventListener("click", () => step(1));
  $("#viewer-close").addEventListener("click", () => dialog.close());
  $("#viewer-share").addEventListener("click", () => {
    const image = images().find((candidate) => candidate.id === currentId);
    if (image) onShare(image);
  });

  return {
    open,
    /** The image changed or went away (deleted, re-fetched): show the new state or close. */
    update(id) {
      if (!dialog.open || id !== currentId) return;
      const image = images().find((candidate) => candidate.id === id);
      if (image) show(image);
      else dialog.close();
    },
  };
}
