// Share links of one image, in a dialog: create one (lasting 1 hour … 30 days, or until revoked),
// copy it, see the live ones, revoke any.
import { $, announce, describe, humanTime } from "./ui.js";

export function createSharing({ api }) {
  const dialog = $("#share-dialog");
  const list = $("#share-list");
  let image = null;

  function status(message) {
    $("#share-status").textContent = message;
  }

  async function copy(share, row) {
    const button = $(".copy", row);
    try {
      await navigator.clipboard.writeText(share.url);
    } catch {
      // No clipboard access (an insecure origin, a refused permission): select it for Ctrl+C.
      const field = $(".share-url", row);
      field.focus();
      field.select();
      status("Copying was not allowed here: the link is selected, copy it with Ctrl+C (⌘C).");
      return;
    }
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 2000);
    status("Link copied to the clipboard.");
  }

  async function revoke(share, row) {
    const button = $(".revoke", row);
    button.disabled = true;
    try {
      await api.deleteShare(share.id);
    } catch (error) {
      if (error?.status !== 404) {
        button.disabled = false;
        status(`Could not revoke the link: ${describe(error)}`);
        return;
      }
    }
    const neighbour = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    ($(".copy", neighbour || dialog) || $("#share-expiry")).focus();
    status("Link revoked: it shows nothing any more.");
    announce("Link revoked.");
  }

  function rowOf(share) {
    const row = $("#share-row").content.firstElementChild.cloneNode(true);
    row.dataset.id = share.id;
    const field = $(".share-url", row);
    field.value = share.url;
    field.setAttribute("aria-label", "Share link");
    field.addEventListener("focus", () => field.select());
    $(".share-expires", row).textContent = share.expires_at
      ? `expires ${humanTime(share.expires_at)}`
      : "until revoked";
    $(".copy", row).addEventListener("click", () => copy(share, row));
    $(".revoke", row).addEventListener("click", () => revoke(share, row));
    return row;
  }

  async function create(event) {
    event.preventDefault();
    const button = $("button[type=submit]", event.target);
    const seconds = $("#share-expiry").value;
    button.disabled = true;
    try {
      const { share } = await api.createShare(image.id, seconds ? Number(seconds) : null);
      const row = rowOf(share);
      list.prepend(row);
      await copy(share, row);
    } catch (error) {
      status(`Could not create a link: ${describe(error)}`);
    } finally {
      button.disabled = false;
    }
  }

  async function open(chosen) {
    image = chosen;
    $("#share-title").textContent = `Share “${image.filename}”`;
    list.replaceChildren();
    status("Loading this image's links…");
    if (!dialog.open) dialog.showModal();
    try {
      const { items } = await api.listShares(chosen.id);
      if (image !== chosen) return; // another image's links were asked for meanwhile
      list.replaceChildren(...items.map(rowOf));
      status(items.length ? "" : "No links yet.");
    } catch (error) {
      status(`Could not load the links: ${describe(error)}`);
    }
  }

  $("#share-form").addEventListener("submit", create);
  $("#share-done").addEventListener("click", () => dialog.close());
  return { open };
}
