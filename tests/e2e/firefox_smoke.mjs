// Firefox smoke test of the upload page: headless firefox-esr, driven over WebDriver BiDi by
// puppeteer-core (no browser download). Run by tests/e2e/test_web_firefox.py against the local stack:
//
//   node tests/e2e/firefox_smoke.mjs PAGE_URL PHOTO_PATH NON_IMAGE_PATH
//
// Signs in with the dev form, uploads both files through the real <input type=file>, waits for the
// photo to be Ready with a loaded thumbnail and for the non-image to be rejected (NOT_AN_IMAGE).
// Exits 0 on success; on failure prints "FAIL: <what>" plus the page's state and exits 1.
// Leaves a screenshot at artifacts/e2e/firefox.png either way (when the page got that far).
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import puppeteer from "puppeteer-core";

const FIREFOX = process.env.SHOEBOX_FIREFOX || "/usr/bin/firefox-esr";
const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), "../../artifacts/e2e");
const SCREENSHOT = resolve(ARTIFACTS, "firefox.png");
const STEP_TIMEOUT_MS = 15_000;
const PIPELINE_TIMEOUT_MS = 45_000;

const [url, photo, nonImage] = process.argv.slice(2);
if (!url || !photo || !nonImage) {
  console.error("usage: node firefox_smoke.mjs PAGE_URL PHOTO_PATH NON_IMAGE_PATH");
  process.exit(2);
}

const started = Date.now();
const log = (message) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`);

class Failure extends Error {}

/** Wait until `predicate(...args)` is true in the page, or fail with `what` and the page's state. */
async function waitFor(page, what, predicate, args = [], timeout = STEP_TIMEOUT_MS) {
  try {
    await page.waitForFunction(predicate, { timeout, polling: 250 }, ...args);
  } catch (error) {
    throw new Failure(`${what} (not within ${timeout / 1000}s: ${error.message})`);
  }
  log(`ok: ${what}`);
}

/** What the page shows, for failure messages. */
async function pageState(page) {
  return page.evaluate(() => ({
    url: location.href,
    notice: document.querySelector("#notice:not([hidden])")?.textContent.trim() || null,
    uploads: [...document.querySelectorAll("#uploads li.upload")].map((row) => ({
      state: row.dataset.state,
      text: row.textContent.replace(/\s+/g, " ").trim(),
    })),
    cards: [...document.querySelectorAll("#gallery li.card")].map((card) => ({
      status: card.dataset.status,
      text: card.textContent.replace(/\s+/g, " ").trim(),
      images: [...card.querySelectorAll("img")].map((img) => ({
        src: img.currentSrc || img.src,
        complete: img.complete,
        naturalWidth: img.naturalWidth,
      })),
    })),
  }));
}

async function run(browser, problems) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1000 });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message ?? error}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });

  try {
    const name = `ff-${randomBytes(3).toString("hex")}`;
    await page.goto(url, { waitUntil: "load" });
    await waitFor(page, "the sign-in form is shown", () => {
      const input = document.querySelector("#local-name");
      return input && input.offsetParent !== null;
    });
    await page.type("#local-name", name);
    await page.click("#local-form button[type=submit]");
    await waitFor(
      page,
      `signed in as ${name}`,
      (expected) => document.querySelector("#who")?.textContent === expected && !document.querySelector("#app").hidden,
      [name],
    );

    const input = await page.$("#file-input");
    if (!input) throw new Failure("no #file-input on the page");
    await input.uploadFile(photo, nonImage);
    log(`chose ${basename(photo)} and ${basename(nonImage)} in the file input`);
    await waitFor(page, "two upload rows appear", () => document.querySelectorAll("#uploads li.upload").length === 2);

    const rowOf = (file) => `[...document.querySelectorAll("#uploads li.upload")]` +
      `.find((row) => row.querySelector(".upload-name").textContent === ${JSON.stringify(file)})`;
    await waitFor(
      page,
      `${basename(photo)} shows Ready`,
      new Function(`const row = ${rowOf(basename(photo))};
        return row?.dataset.state === "ready" && row.querySelector(".upload-status").textContent.startsWith("Ready");`),
      [],
      PIPELINE_TIMEOUT_MS,
    );
    await waitFor(
      page,
      `a thumbnail of ${basename(photo)} has loaded in the gallery`,
      (alt) =>
        [...document.querySelectorAll("#gallery li.card[data-status=READY] img")].some(
          (img) => img.alt === alt && img.complete && img.naturalWidth > 0,
        ),
      [basename(photo)],
    );
    await waitFor(
      page,
      `${basename(nonImage)} is rejected with NOT_AN_IMAGE`,
      new Function(`const row = ${rowOf(basename(nonImage))};
        return row?.dataset.state === "rejected" && row.querySelector(".upload-status").textContent.includes("NOT_AN_IMAGE");`),
      [],
      PIPELINE_TIMEOUT_MS,
    );
    await waitFor(page, "the gallery card of the non-image gives the reason", () =>
      [...document.querySelectorAll("#gallery li.card[data-status=REJECTED] .card-reason")].some((reason) =>
        reason.textContent.includes("NOT_AN_IMAGE"),
      ),
    );
    if (problems.length) throw new Failure(`the page reported errors:\n  ${problems.join("\n  ")}`);
    const state = await pageState(page);
    log(`uploads: ${JSON.stringify(state.uploads)}`);
  } catch (error) {
    if (error instanceof Failure) {
      try {
        error.message += `\npage state: ${JSON.stringify(await pageState(page), null, 2)}`;
      } catch {
        // the page is gone: the message alone will have to do
      }
    }
    throw error;
  } finally {
    try {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      log(`screenshot: ${SCREENSHOT}`);
    } catch (error) {
      console.error(`could not take the screenshot: ${error.message}`);
    }
  }
}

let browser;
let code = 0;
const problems = [];
try {
  browser = await puppeteer.launch({
    browser: "firefox",
    executablePath: FIREFOX,
    headless: true,
    // No updates, telemetry or first-run pages: the only network is the local stack.
    extraPrefsFirefox: {
      "app.update.enabled": false,
      "browser.shell.checkDefaultBrowser": false,
      "datareporting.policy.dataSubmissionEnabled": false,
      "toolkit.telemetry.enabled": false,
    },
  });
  log(`launched ${await browser.version()} (${FIREFOX})`);
  await run(browser, problems);
  log("PASS: Firefox signed in, uploaded, showed the thumbnail and the rejection");
} catch (error) {
  console.error(`FAIL: ${error instanceof Failure ? error.message : error.stack || error}`);
  code = 1;
} finally {
  await browser?.close().catch((error) => console.error(`closing Firefox: ${error.message}`));
}
process.exit(code);
