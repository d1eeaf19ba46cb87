// The upload page: configuration, sign-in, and the parts wired together — uploads (uploads.js,
// followed by status.js), the gallery (gallery.js), the viewer (viewer.js), share links
// (shares.js) and the user's usage.
import { createApi } from "./api.js";
import * as auth from "./auth.js";
import { createGallery } from "./gallery.js";
import { createSharing } from "./shares.js";
import { createFollower } from "./status.js";
import { $, describe, humanSize } from "./ui.js";
import { createUploader } from "./uploads.js";
import { createViewer } from "./viewer.js";

let config = null;
let api = null;
let gallery = null;
let uploader = null;

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
  uploader.reset();
  gallery.clear();
  $("#uploads").replaceChildren();
  $("#usage").textContent = "";
}

function showSignedIn(session) {
  $("#loading").hidden = true;
  $("#sign-in").hidden = true;
  $("#who").textContent = session.name;
  $("#account").hidden = false;
  $("#app").hidden = false;
  gallery.loadPage({ reset: true });
  uploader.showInterrupted();
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

// ------------------------------------------------------------------ uploads & usage

function uploadFiles(fileList) {
  const files = [...fileList];
  if (!files.length || !api || !auth.currentSession()) return;
  clearNotice();
  uploader.add(files);
}

let usageTimer = null;

/** The user's images and bytes against their limits, asked again shortly after a change. */
function showUsage() {
  clearTimeout(usageTimer);
  usageTimer = setTimeout(async () => {
    try {
      const usage = await api.usage();
      $("#usage").textContent =
        `${usage.images} of ${usage.limits.images} images · ` +
        `${humanSize(usage.bytes)} of ${humanSize(usage.limits.bytes)}`;
    } catch {
      $("#usage").textContent = ""; // a detail: the gallery says what went wrong, if anything
    }
  }, 300);
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
  const sharing = createSharing({ api });
  const follower = createFollower(api);
  let viewer = null;
  gallery = createGallery(api, {
    onView: (id) => viewer.open(id),
    onShare: (image) => sharing.open(image),
    onChanged: (id) => viewer.update(id),
    onRemoved: (id) => follower.forget(id),
    onUsageChanged: showUsage,
    onError: showNotice,
  });
  viewer = createViewer({
    images: gallery.readyImages,
    focusCard: gallery.focusCard,
    onShare: (image) => sharing.open(image),
  });
  uploader = createUploader({
    api,
    owner: () => `${config.apiUrl} ${auth.currentSession()?.sub}`,
    gallery,
    follower,
    onFinal: showUsage,
  });
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
