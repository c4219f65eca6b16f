// @ts-check
// Automatic away (docs/protocol.md, Presence: "What clients do with it"). The user is idle when no
// tab of theirs saw a key, a click or a pointer for IDLE_AFTER_MS: every tab writes its last
// activity to localStorage, which all the user's tabs on this origin share, so one busy tab keeps
// the others from going away. Going idle sets `away` with `update_status`, only over a plain
// `online`: a status the user chose (busy, or away by hand) is theirs and stays. Activity sets
// `online` back, only when the away was set automatically (remembered in localStorage too).

const LAST_ACTIVITY_KEY = "confab.lastActivity";
const AUTO_AWAY_KEY = "confab.autoAway";
/** Tests and people who want another delay set this key (milliseconds). */
const IDLE_AFTER_KEY = "confab.idleAfterMs";
const DEFAULT_IDLE_AFTER_MS = 5 * 60 * 1000;

/**
 * What to do now: "away" (go away), "online" (come back) or null.
 * @param {{status: string|undefined, idleFor: number, idleAfter: number, autoAway: boolean}} now
 */
export function idleTransition({ status, idleFor, idleAfter, autoAway }) {
  if (idleFor >= idleAfter) return status === "online" && !autoAway ? "away" : null;
  return status === "away" && autoAway ? "online" : null;
}

/** @param {{store: any, client: any}} options */
export function mountIdleAway({ store, client }) {
  const storage = window.localStorage;
  const idleAfter = Number(storage.getItem(IDLE_AFTER_KEY)) || DEFAULT_IDLE_AFTER_MS;
  const lastActivity = () => Number(storage.getItem(LAST_ACTIVITY_KEY)) || Date.now();
  let written = 0;
  let pending = false;

  function check() {
    const me = store.getState().me;
    const status = store.getState().presence[me.id]?.status;
    const autoAway = storage.getItem(AUTO_AWAY_KEY) === "1";
    const next = idleTransition({ status, idleFor: Date.now() - lastActivity(), idleAfter, autoAway });
    if (!next || pending || store.getState().connection !== "online") {
      // Someone (another tab, the profile page) chose a status since: the away is no longer ours.
      if (autoAway && status && status !== "away") storage.removeItem(AUTO_AWAY_KEY);
      return;
    }
    pending = true;
    client
      .request("update_status", { status: next })
      .then((presence) => {
        if (next === "away") storage.setItem(AUTO_AWAY_KEY, "1");
        else storage.removeItem(AUTO_AWAY_KEY);
        // The server tells the user's other connections, not this one: apply the answer here.
        store.dispatch({ type: "status_changed", data: presence });
      })
      .catch(() => {})
      .finally(() => {
        pending = false;
      });
  }

  function active() {
    const now = Date.now();
    // Written at most once a second: pointer moves come by the hundred.
    if (now - written > 1000) {
      written = now;
      storage.setItem(LAST_ACTIVITY_KEY, String(now));
      if (storage.getItem(AUTO_AWAY_KEY) === "1") check();
    }
  }

  for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "focus"]) window.addEventListener(type, active, { passive: true });
  // Another tab's activity brings this one back too (its `away` is the same user's).
  window.addEventListener("storage", (event) => {
    if (event.key === LAST_ACTIVITY_KEY) check();
  });
  active();
  const timer = setInterval(check, Math.min(30000, Math.max(250, idleAfter / 4)));
  return { check, stop: () => clearInterval(timer) };
}
