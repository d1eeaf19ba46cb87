// Following uploads to a final status with one request per round for all of them
// (GET /v1/images?ids=…, 100 ids a request), not one poll per image. Each image is first asked
// about when its processing is expected to be done, then ever less often.

const FINAL = new Set(["READY", "REJECTED", "FAILED"]);
const IDS_PER_REQUEST = 100;
const MIB = 1024 * 1024;
// Validation and thumbnails, from the upload's end to READY, measured on the local stack (a
// loaded 2-core machine, warm): a 0.3–1 MiB JPEG 0.5–0.9 s, an 8 MiB PNG 0.7–1.3 s. So about a
// second, and a bigger file is first asked about a little later.
const EXPECTED_BASE_MS = 1000;
const EXPECTED_MS_PER_MIB = 50;
const EXPECTED_MAX_MS = 10_000;
// After the expected time: 0.5 s, then 1.5 times longer each round, up to 5 s.
const FIRST_RETRY_MS = 500;
const BACK_OFF = 1.5;
const MAX_DELAY_MS = 5000;
const GIVE_UP_MS = 3 * 60 * 1000;

export function expectedProcessingMs(size) {
  return Math.min(EXPECTED_MAX_MS, EXPECTED_BASE_MS + (EXPECTED_MS_PER_MIB * size) / MIB);
}

/** `api.imagesByIds(ids)` answers the rounds. */
export function createFollower(api) {
  const followed = new Map(); // id -> {dueAt, delay, startedAt, onUpdate, resolve}
  let timer = null;
  let polling = false;

  function stop(id, result) {
    const entry = followed.get(id);
    if (!entry) return;
    followed.delete(id);
    entry.resolve(result);
  }

  function schedule() {
    clearTimeout(timer);
    if (polling || !followed.size) return;
    const next = Math.min(...[...followed.values()].map((entry) => entry.dueAt));
    timer = setTimeout(round, Math.max(0, next - Date.now()));
  }

  function backOff(entry, now) {
    entry.delay = entry.delay === null ? FIRST_RETRY_MS : Math.min(entry.delay * BACK_OFF, MAX_DELAY_MS);
    entry.dueAt = now + entry.delay;
  }

  async function round() {
    polling = true;
    try {
      // Everyone followed is asked about: the request costs the same, and an early answer helps.
      const ids = [...followed.keys()];
      for (let start = 0; start < ids.length; start += IDS_PER_REQUEST) {
        const batch = ids.slice(start, start + IDS_PER_REQUEST);
        let items;
        try {
          ({ items } = await api.imagesByIds(batch));
        } catch (error) {
          if (error?.status === 401) {
            for (const id of batch) stop(id, null); // signed out: the page says so
            continue;
          }
          const now = Date.now();
          for (const id of batch) if (followed.has(id)) backOff(followed.get(id), now);
          continue;
        }
        const found = new Map(items.map((image) => [image.id, image]));
        const now = Date.now();
        for (const id of batch) {
          const entry = followed.get(id);
          if (!entry) continue;
          const image = found.get(id);
          if (!image) {
            stop(id, null); // deleted meanwhile
            continue;
          }
          entry.onUpdate(image);
          if (FINAL.has(image.status) || now - entry.startedAt > GIVE_UP_MS) stop(id, image);
          else if (entry.dueAt <= now) backOff(entry, now);
        }
      }
    } finally {
      polling = false;
      schedule();
    }
  }

  return {
    /**
     * Follow image `id` (`size` bytes) until READY, REJECTED or FAILED: `onUpdate(image)` sees each
     * answer; resolves with the final image, the last one seen after 3 minutes, or null when the
     * image is gone.
     */
    follow(id, size, onUpdate) {
      stop(id, null);
      return new Promise((resolve) => {
        const startedAt = Date.now();
        followed.set(id, { dueAt: startedAt + expectedProcessingMs(size), delay: null, startedAt, onUpdate, resolve });
        schedule();
      });
    },
    forget: (id) => stop(id, null),
    clear() {
      for (const id of [...followed.keys()]) stop(id, null);
    },
  };
}
