// Sign-in for the upload page: a dev token (local stack), a pasted token, or Cognito's hosted UI.
//
// The token lives in sessionStorage: it survives a reload but not the tab, and no other site
// can read it. Cognito uses the authorization code flow with PKCE (a public client, no secret).

const SESSION_KEY = "shoebox.session";
const PKCE_KEY = "shoebox.pkce";

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The token's claims, for display and expiry only: the API verifies the signature. */
export function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(payload), (char) => char.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** {token, name, sub} while a token that has not expired is stored, else null. */
export function currentSession() {
  const token = sessionStorage.getItem(SESSION_KEY);
  if (!token) return null;
  const claims = claimsOf(token);
  if (claims && typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) {
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }
  const name = claims?.email || claims?.["cognito:username"] || claims?.sub || "unknown user";
  return { token, name, sub: claims?.sub };
}

export function saveToken(token) {
  const trimmed = token.trim().replace(/^Bearer\s+/i, "");
  if (!claimsOf(trimmed)) throw new Error("That is not a JWT (three base64url parts separated by dots).");
  sessionStorage.setItem(SESSION_KEY, trimmed);
}

export function forgetToken() {
  sessionStorage.removeItem(SESSION_KEY);
}

// ------------------------------------------------------------------ Cognito hosted UI

function cognitoBase(cognito) {
  const domain = cognito.domain.replace(/\/+$/, "");
  return domain.startsWith("https://") ? domain : `https://${domain}`;
}

/** Go to the hosted sign-in page; it comes back to `redirectUri` with ?code=…&state=…. */
export async function startCognitoSignIn(cognito) {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(48)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const url = new URL(`${cognitoBase(cognito)}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: cognito.clientId,
    redirect_uri: cognito.redirectUri,
    scope: cognito.scope || "openid email",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(url);
}

/**
 * If this page load is the hosted UI's redirect, trade the code for tokens and store the ID
 * token (its `aud` is the app client id, which the API's JWT authorizer checks). Returns true
 * when a sign-in completed; throws with a readable message when it failed.
 */
export async function finishCognitoSignIn(cognito) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return false;
  history.replaceState(null, "", location.pathname); // the code is single-use: drop it from the URL
  if (params.has("error")) {
    throw new Error(`Sign-in failed: ${params.get("error_description") || params.get("error")}`);
  }
  const pkce = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  if (!pkce || pkce.state !== params.get("state")) {
    throw new Error("Sign-in response did not match this tab's request. Please sign in again.");
  }
  const response = await fetch(`${cognitoBase(cognito)}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: cognito.clientId,
      code: params.get("code"),
      redirect_uri: cognito.redirectUri,
      code_verifier: pkce.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  if (!response.ok || !tokens.id_token) {
    throw new Error(`Sign-in failed: ${tokens.error_description || tokens.error || response.status}`);
  }
  saveToken(tokens.id_token);
  return true;
}

/** Where to send the browser to end the hosted UI's session too. */
export function cognitoSignOutUrl(cognito) {
  const url = new URL(`${cognitoBase(cognito)}/logout`);
  url.search = new URLSearchParams({ client_id: cognito.clientId, logout_uri: cognito.redirectUri });
  return url.toString();
}
