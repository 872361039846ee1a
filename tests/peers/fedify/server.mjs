// An independent ActivityPub peer built on Fedify, for Fedipoly's federation
// tests.  Loopback only, in-memory only, test-only: never expose it.
//
//   node server.mjs --port 0 --name peer [--first-knock rfc9421|draft-cavage-http-signatures-12]
//                   [--follow-policy accept|reject|ignore] [--rsa-only] [--log-level warning]
//                   [--open-to "Podcast guest, Mentoring"]
//
// Every option may also come from the environment: PEER_PORT, PEER_NAME,
// PEER_FIRST_KNOCK, PEER_FOLLOW_POLICY, PEER_RSA_ONLY=1, PEER_LOG_LEVEL, PEER_OPEN_TO.
//
// Once listening it prints one JSON line on stdout ({"ready": true, ...});
// everything else goes to stderr.  The control API lives under /_control/.

import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import http from "node:http";
import process from "node:process";

import {
  createFederation,
  generateCryptoKeyPair,
  MemoryKvStore,
  verifyRequestDetailed,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Create,
  Endpoints,
  Follow,
  isActor,
  Mention,
  Note,
  Object as APObject,
  Person,
  PropertyValue,
  PUBLIC_COLLECTION,
  Reject,
  Undo,
} from "@fedify/fedify/vocab";
import { Temporal } from "@js-temporal/polyfill";
import { configure, defaultTextFormatter } from "@logtape/logtape";

// ---------------------------------------------------------------- options

function parseOptions(argv) {
  const env = process.env;
  const opts = {
    port: Number(env.PEER_PORT ?? 0),
    name: env.PEER_NAME ?? "peer",
    firstKnock: env.PEER_FIRST_KNOCK ?? "rfc9421",
    followPolicy: env.PEER_FOLLOW_POLICY ?? "accept",
    rsaOnly: env.PEER_RSA_ONLY === "1",
    logLevel: env.PEER_LOG_LEVEL ?? "warning",
    // A profile field "Open to" (what Mastodon users write, and Fedipoly reads).
    openTo: env.PEER_OPEN_TO ?? "",
  };
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--port") opts.port = Number(value());
    else if (arg === "--name") opts.name = value();
    else if (arg === "--first-knock") opts.firstKnock = value();
    else if (arg === "--follow-policy") opts.followPolicy = value();
    else if (arg === "--rsa-only") opts.rsaOnly = true;
    else if (arg === "--log-level") opts.logLevel = value();
    else if (arg === "--open-to") opts.openTo = value();
    else throw new Error(`unknown option ${arg}`);
  }
  if (!["rfc9421", "draft-cavage-http-signatures-12"].includes(opts.firstKnock)) {
    throw new Error(`bad --first-knock ${opts.firstKnock}`);
  }
  if (!["accept", "reject", "ignore"].includes(opts.followPolicy)) {
    throw new Error(`bad --follow-policy ${opts.followPolicy}`);
  }
  if (!/^[a-z0-9_]+$/.test(opts.name)) throw new Error(`bad --name ${opts.name}`);
  if (!Number.isInteger(opts.port) || opts.port < 0) throw new Error("bad --port");
  return opts;
}

const opts = parseOptions(process.argv);
const NAME = opts.name;

function log(message) {
  process.stderr.write(`[fedify-peer ${NAME}] ${message}\n`);
}

// Fedify logs through LogTape.  Its signature failures and delivery errors are
// the most useful thing to see when a test fails, so send them to stderr (the
// console sink would put info/debug on stdout, which carries the ready line).
await configure({
  contextLocalStorage: new AsyncLocalStorage(),
  sinks: { stderr: (record) => process.stderr.write(defaultTextFormatter(record)) },
  loggers: [
    { category: "fedify", lowestLevel: opts.logLevel, sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
  ],
});

// ---------------------------------------------------------------- state

const received = []; // verified activities, in arrival order
const rejected = []; // deliveries whose signatures Fedify could not verify
const errors = []; // failures of background work (answering a Follow)
const followers = new Map(); // actor id -> Actor (has inboxId / endpoints)
const followIds = new Map(); // id of a Follow we accepted -> follower actor id
const following = new Map(); // followed actor id -> { follow, actor, state }
const objects = new Map(); // local uuid -> Note or Create we published
let seq = 0;

// Generated once per process: tests get fresh keys each run.
const keyPairs = [await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")];
if (!opts.rsaOnly) keyPairs.push(await generateCryptoKeyPair("Ed25519"));

// The HTTP bridge below stores what it saw on the wire here, so the inbox
// listeners (which only get the parsed activity) can record who signed the
// request and the exact body.  Without a message queue Fedify runs listeners
// inside the request's own async chain, so the store is visible to them.
const wire = new AsyncLocalStorage();

// Fedify verifies every delivery itself (listeners only see verified ones),
// but when the body carries a Linked Data signature or an integrity proof it
// may accept that and never look at the HTTP signature.  So each POST's HTTP
// signature is also checked here, on its own, and the outcome recorded.
// Fedify refetches a cached key that fails to verify; failed fetches (null)
// are not cached, so a key that appears later is picked up.
const keyCache = new Map();
const httpKeyCache = {
  get: async (keyId) => keyCache.get(keyId.href),
  set: async (keyId, key) => {
    if (key == null) keyCache.delete(keyId.href);
    else keyCache.set(keyId.href, key);
  },
};

async function checkHttpSignature(request) {
  const info = signatureInfo(request.headers);
  if (info == null) return null;
  const ctx = federation.createContext(request, undefined);
  const result = await verifyRequestDetailed(request.clone(), {
    documentLoader: await ctx.getDocumentLoader({ identifier: NAME }),
    contextLoader: ctx.contextLoader,
    keyCache: httpKeyCache,
  }).catch((error) => ({ verified: false, reason: { type: `error: ${error}` } }));
  return {
    ...info,
    verified: result.verified,
    key_owner: result.verified
      ? (result.key.ownerId ?? result.key.controllerId)?.href ?? null
      : null,
    failure: result.verified ? null : result.reason.type,
  };
}

function signatureInfo(headers) {
  // RFC 9421: Signature-Input: sig1=(...);keyid="...";alg=...
  const input = headers.get("signature-input");
  if (input != null) {
    return { spec: "rfc9421", key_id: /keyid="([^"]*)"/.exec(input)?.[1] ?? null };
  }
  // draft-cavage-12 (what Mastodon sends): Signature: keyId="...",headers=...
  const sig = headers.get("signature");
  if (sig != null) {
    return {
      spec: "draft-cavage-http-signatures-12",
      key_id: /keyId="([^"]*)"/.exec(sig)?.[1] ?? null,
    };
  }
  return null;
}

// ---------------------------------------------------------------- federation

// The server listens first (so --port 0 works) and builds the federation with
// the real origin afterwards.
const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    log(`internal error: ${error?.stack ?? error}`);
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("internal error");
  });
});
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(opts.port, "127.0.0.1", resolve);
});
const PORT = server.address().port;
const BASE = `http://127.0.0.1:${PORT}`;

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: BASE,
  // Everything here lives on 127.0.0.1, which Fedify refuses by default.
  allowPrivateAddress: true,
  // Which HTTP signature spec to try first on an unknown server; Fedify
  // retries with the other one when the first knock is refused (and
  // remembers what worked per origin).
  firstKnock: opts.firstKnock,
  // Without a queue, sendActivity() delivers before it returns and throws on
  // failure, which is what a test wants to see.
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== NAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: `Fedify peer ${identifier}`,
      summary: "An independent ActivityPub peer used by Fedipoly's tests.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      followers: ctx.getFollowersUri(identifier),
      manuallyApprovesFollowers: opts.followPolicy !== "accept",
      publicKey: keys[0].cryptographicKey, // RSA: what Mastodon-style servers read
      assertionMethods: keys.map((k) => k.multikey), // FEP-521a
      attachments: opts.openTo
        ? [new PropertyValue({ name: "Open to", value: opts.openTo })]
        : [],
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) => (identifier === NAME ? keyPairs : []))
  // WebFinger: acct:NAME@127.0.0.1:PORT -> /users/NAME (Fedify serves it).
  .mapHandle((_ctx, username) => (username === NAME ? NAME : null));

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) => {
    if (identifier !== NAME) return null;
    // Plain actors double as Recipient objects for sendActivity("followers").
    return { items: [...followers.values()] };
  })
  .setCounter((_ctx, identifier) => (identifier === NAME ? followers.size : null));

// Our notes and their Create activities are dereferenceable at their ids.
federation.setObjectDispatcher(Note, "/users/{identifier}/notes/{id}", (_ctx, v) =>
  v.identifier === NAME ? (objects.get(v.id)?.note ?? null) : null,
);
federation.setObjectDispatcher(Create, "/users/{identifier}/notes/{id}/activity", (_ctx, v) =>
  v.identifier === NAME ? (objects.get(v.id)?.create ?? null) : null,
);

federation.setNodeInfoDispatcher("/nodeinfo/2.1", () => ({
  software: { name: "fedify-test-peer", version: "2.3.6" },
  protocols: ["activitypub"],
  usage: {
    users: { total: 1, activeHalfyear: 1, activeMonth: 1 },
    localPosts: objects.size,
    localComments: 0,
  },
}));

async function record(ctx, activity) {
  const w = wire.getStore() ?? {};
  const entry = {
    seq: ++seq,
    received_at: new Date().toISOString(),
    type: activity.constructor.typeId?.href?.split("#").pop() ?? "Activity",
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    object_id: activity.objectId?.href ?? null,
    recipient: ctx.recipient, // null: it came through the shared inbox
    inbox: w.path ?? null,
    // Fedify only calls listeners for verified activities, and for HTTP
    // signatures it has also checked that the key belongs to the actor.
    // signature: {spec, key_id, verified, key_owner, failure}, from the
    // independent check in checkHttpSignature().
    signature: w.signature ?? null,
    body_has_ld_signature: w.body?.signature != null,
    body_has_proof: w.body?.proof != null,
    raw: w.body ?? null,
    json: await activity.toJsonLd({ contextLoader: ctx.contextLoader }),
  };
  received.push(entry);
  log(`received ${entry.type} ${entry.id} from ${entry.actor} (${entry.signature?.spec ?? "no http signature"})`);
  return entry;
}

async function fetchActor(ctx, url) {
  // Signed GET: works against servers that require authorized fetch.
  const loader = await ctx.getDocumentLoader({ identifier: NAME });
  const { document } = await loader(url);
  const actor = await APObject.fromJsonLd(document, {
    documentLoader: loader,
    contextLoader: ctx.contextLoader,
  });
  if (!isActor(actor)) throw new HttpError(422, `${url} is not an actor`);
  if (actor.id == null || actor.id.origin !== new URL(url).origin) {
    throw new HttpError(422, `${url} has a foreign or missing id: ${actor.id?.href}`);
  }
  return { actor, document };
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  // Lets listeners on the shared inbox fetch with signed GETs too.
  .setSharedKeyDispatcher(() => ({ identifier: NAME }))
  .on(Follow, async (ctx, follow) => {
    await record(ctx, follow);
    const target = ctx.parseUri(follow.objectId);
    if (target?.type !== "actor" || target.identifier !== NAME) return;
    if (follow.actorId == null || opts.followPolicy === "ignore") return;
    // Answer after the 202, as servers with a job queue do.  Replying inside
    // the request would make a sender that holds a lock or a transaction
    // while it delivers wait on its own callback.
    later(`answering ${follow.id?.href}`, async () => {
      const { actor } = await fetchActor(ctx, follow.actorId.href);
      const Reply = opts.followPolicy === "accept" ? Accept : Reject;
      if (Reply === Accept) {
        followers.set(actor.id.href, actor);
        followIds.set(follow.id?.href, actor.id.href);
      }
      await ctx.sendActivity(
        { identifier: NAME },
        actor,
        new Reply({
          id: new URL(`${ctx.getActorUri(NAME).href}#${Reply.name.toLowerCase()}s/${randomUUID()}`),
          actor: ctx.getActorUri(NAME),
          object: follow,
        }),
      );
    });
  })
  .on(Accept, async (ctx, accept) => {
    await record(ctx, accept);
    markFollow(accept, "accepted");
  })
  .on(Reject, async (ctx, reject) => {
    await record(ctx, reject);
    markFollow(reject, "rejected");
  })
  .on(Undo, async (ctx, undo) => {
    await record(ctx, undo);
    // Undo{Follow}: forget the follower.  Only the actor who followed may
    // undo.  The Follow may be embedded or given by id only (not fetched:
    // the sender need not serve its Follow activities).
    const actorId = undo.actorId?.href;
    if (actorId == null) return;
    if (followIds.get(undo.objectId?.href) === actorId) return void followers.delete(actorId);
    const inner = await undo
      .getObject({ documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader })
      .catch(() => null);
    if (inner instanceof Follow && inner.actorId?.href === actorId) followers.delete(actorId);
  })
  // Create, Update, Delete, Announce, Like, Block, Move, ...: just record.
  // Fedify dispatches to the most specific registered class, so Activity
  // catches everything not listed above.
  .on(Activity, async (ctx, activity) => {
    await record(ctx, activity);
  })
  .onUnverifiedActivity((ctx, activity, reason) => {
    const w = wire.getStore() ?? {};
    rejected.push({
      received_at: new Date().toISOString(),
      type: activity.constructor.typeId?.href?.split("#").pop() ?? "Activity",
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      inbox: w.path ?? null,
      signature: w.signature ?? null,
      reason: reason.type,
      key_id: reason.keyId?.href ?? null,
    });
    log(`rejected ${activity.id?.href}: ${reason.type}`);
    // Returning nothing keeps Fedify's 401.
  })
  .onError((_ctx, error) => log(`inbox listener error: ${error?.stack ?? error}`));

// Background work after a request; its failures are kept for /_control/errors.
function later(what, task) {
  setTimeout(() => {
    task().catch((error) => {
      errors.push({ at: new Date().toISOString(), what, error: String(error?.message ?? error) });
      log(`${what} failed: ${error?.stack ?? error}`);
    });
  }, 0);
}

function markFollow(reply, state) {
  // Match the reply to our Follow by id; fall back to the replying actor.
  for (const entry of following.values()) {
    if (reply.objectId?.href === entry.follow.id.href) return void (entry.state = state);
  }
  const entry = following.get(reply.actorId?.href);
  if (entry != null) entry.state = state;
}

// ---------------------------------------------------------------- control API

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function errorStatus(error) {
  // FetchError from a document loader carries the remote response.
  if (error instanceof HttpError) return error.status;
  if (error?.response?.status != null) return 502;
  return 500;
}

// WebFinger by hand: lookupWebFinger() always uses https for acct: handles,
// and the test servers speak plain http on loopback.
async function webfinger(handle, scheme) {
  const m = /^@?([^@]+)@([^@]+)$/.exec(handle);
  if (m == null) throw new HttpError(400, `bad handle ${handle}`);
  const url = new URL(`${scheme}://${m[2]}/.well-known/webfinger`);
  url.searchParams.set("resource", `acct:${m[1]}@${m[2]}`);
  const res = await fetch(url, { headers: { accept: "application/jrd+json" } });
  if (!res.ok) throw new HttpError(502, `WebFinger ${url} answered ${res.status}`);
  const jrd = await res.json();
  const self = jrd.links?.find(
    (l) =>
      l.rel === "self" &&
      (l.type === "application/activity+json" || l.type?.startsWith("application/ld+json")),
  );
  if (self?.href == null) throw new HttpError(502, `WebFinger ${url} has no self link`);
  return { jrd, actorUrl: self.href };
}

const routes = {
  "GET /_control/health": async () => ({
    ok: true,
    name: NAME,
    base_url: BASE,
    actor: `${BASE}/users/${NAME}`,
    handle: `${NAME}@127.0.0.1:${PORT}`,
    first_knock: opts.firstKnock,
  }),

  "GET /_control/received": async () => received,

  "GET /_control/rejected": async () => rejected,

  "GET /_control/errors": async () => errors,

  "POST /_control/reset": async () => {
    received.length = 0;
    rejected.length = 0;
    errors.length = 0;
    return { ok: true };
  },

  "GET /_control/followers": async () => [...followers.keys()],

  "GET /_control/following": async () =>
    [...following].map(([actor, e]) => ({ actor, follow_id: e.follow.id.href, state: e.state })),

  "POST /_control/follow": async (ctx, body) => {
    let webfingerJrd = null;
    let actorUrl = body.actor;
    if (actorUrl == null) {
      if (body.handle == null) throw new HttpError(400, "give handle or actor");
      ({ jrd: webfingerJrd, actorUrl } = await webfinger(body.handle, body.scheme ?? "http"));
    }
    const { actor, document } = await fetchActor(ctx, actorUrl);
    const follow = new Follow({
      id: new URL(`${ctx.getActorUri(NAME).href}#follows/${randomUUID()}`),
      actor: ctx.getActorUri(NAME),
      object: actor.id,
    });
    following.set(actor.id.href, { follow, actor, state: "pending" });
    await ctx.sendActivity({ identifier: NAME }, actor, follow, {
      preferSharedInbox: body.prefer_shared_inbox ?? false,
    });
    return { id: follow.id.href, actor_id: actor.id.href, actor: document, webfinger: webfingerJrd };
  },

  "POST /_control/unfollow": async (ctx, body) => {
    const entry = following.get(body.actor);
    if (entry == null) throw new HttpError(404, `not following ${body.actor}`);
    const undo = new Undo({
      id: new URL(`${ctx.getActorUri(NAME).href}#undos/${randomUUID()}`),
      actor: ctx.getActorUri(NAME),
      object: entry.follow,
    });
    await ctx.sendActivity({ identifier: NAME }, entry.actor, undo);
    following.delete(body.actor);
    return { id: undo.id.href };
  },

  "POST /_control/post": async (ctx, body) => {
    const me = ctx.getActorUri(NAME);
    const uuid = randomUUID();
    const isPublic = body.public ?? true;
    const toFollowers = body.to_followers ?? true;
    const recipients = toFollowers ? [...followers.values()] : [];
    const tags = [];
    const mentioned = [];
    if (body.mention != null) {
      const { actor } = await fetchActor(ctx, body.mention);
      recipients.push(actor);
      mentioned.push(actor.id);
      const host = actor.id.host;
      tags.push(new Mention({ href: actor.id, name: `@${actor.preferredUsername}@${host}` }));
    }
    const followersUri = ctx.getFollowersUri(NAME);
    const to = isPublic ? [PUBLIC_COLLECTION] : toFollowers ? [followersUri] : mentioned;
    const cc = isPublic
      ? [...(toFollowers ? [followersUri] : []), ...mentioned]
      : toFollowers ? mentioned : [];
    const published = Temporal.Now.instant();
    const note = new Note({
      id: ctx.getObjectUri(Note, { identifier: NAME, id: uuid }),
      attribution: me,
      content: body.content ?? "",
      published,
      tos: to,
      ccs: cc,
      tags,
      replyTarget: body.in_reply_to != null ? new URL(body.in_reply_to) : null,
    });
    const create = new Create({
      id: ctx.getObjectUri(Create, { identifier: NAME, id: uuid }),
      actor: me,
      object: note,
      published,
      tos: to,
      ccs: cc,
    });
    objects.set(uuid, { note, create });
    if (recipients.length > 0) {
      await ctx.sendActivity({ identifier: NAME }, recipients, create, {
        preferSharedInbox: body.prefer_shared_inbox ?? true,
      });
    }
    return {
      id: note.id.href,
      create_id: create.id.href,
      delivered_to: recipients.map((r) => r.id.href),
    };
  },

  // Send any activity the test writes (Like, Announce, Update, Delete, Block,
  // a Reject...).  "actor" and "id" are filled in when missing; "to" is a
  // list of actor URLs or "followers".
  "POST /_control/send": async (ctx, body) => {
    const json = { "@context": "https://www.w3.org/ns/activitystreams", ...body.activity };
    json.actor ??= ctx.getActorUri(NAME).href;
    json.id ??= `${ctx.getActorUri(NAME).href}#activities/${randomUUID()}`;
    const activity = await Activity.fromJsonLd(json, ctx);
    let recipients;
    if (body.to === "followers") recipients = [...followers.values()];
    else {
      recipients = [];
      for (const url of body.to ?? []) recipients.push((await fetchActor(ctx, url)).actor);
    }
    if (recipients.length > 0) {
      await ctx.sendActivity({ identifier: NAME }, recipients, activity, {
        preferSharedInbox: body.prefer_shared_inbox ?? false,
      });
    }
    return { id: activity.id.href, delivered_to: recipients.map((r) => r.id.href) };
  },

  "POST /_control/lookup": async (ctx, body) => {
    const loader = await ctx.getDocumentLoader({ identifier: NAME });
    try {
      const { document, documentUrl } = await loader(body.url);
      return { ok: true, status: 200, url: documentUrl, document };
    } catch (error) {
      return {
        ok: false,
        status: error?.response?.status ?? null,
        error: String(error?.message ?? error),
      };
    }
  },
};

// ---------------------------------------------------------------- HTTP bridge

// Node's http module <-> the fetch API Request/Response that Fedify speaks
// (@fedify/hono is not available here, and this needs no extra package).
async function handle(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  // Keep the Host header as sent: RFC 9421 signatures cover @authority and
  // @target-uri, so the URL must be what the signer saw.
  const url = new URL(req.url, `http://${req.headers.host ?? `127.0.0.1:${PORT}`}`);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const request = new Request(url, {
    method: req.method,
    headers,
    body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
  });

  let response;
  const route = routes[`${req.method} ${url.pathname}`];
  if (route != null) {
    response = await control(route, request, body);
  } else {
    let parsed = null;
    try {
      parsed = body.length > 0 ? JSON.parse(body.toString("utf8")) : null;
    } catch {}
    const signature =
      req.method === "POST" ? await checkHttpSignature(request) : signatureInfo(headers);
    const store = { path: url.pathname, signature, body: parsed };
    response = await wire.run(store, () =>
      federation.fetch(request, {
        contextData: undefined,
        onNotFound: () => new Response("Not found", { status: 404 }),
        onNotAcceptable: () => new Response("Not acceptable", { status: 406 }),
      }),
    );
    let note = "";
    if (signature != null) {
      note = ` [${signature.spec} ${signature.key_id}`;
      if (signature.verified != null) note += ` verified=${signature.verified}`;
      if (signature.failure != null) note += ` ${signature.failure}`;
      note += "]";
    }
    log(`${req.method} ${url.pathname}${url.search} -> ${response.status}${note}`);
  }

  const out = Buffer.from(await response.arrayBuffer());
  const outHeaders = {};
  response.headers.forEach((v, k) => (outHeaders[k] = v));
  res.writeHead(response.status, outHeaders);
  res.end(out);
}

async function control(route, request, body) {
  const json = (status, value) =>
    new Response(JSON.stringify(value), {
      status,
      headers: { "content-type": "application/json" },
    });
  try {
    const input = body.length > 0 ? JSON.parse(body.toString("utf8")) : {};
    const ctx = federation.createContext(request, undefined);
    return json(200, await route(ctx, input));
  } catch (error) {
    log(`control ${new URL(request.url).pathname} failed: ${error?.stack ?? error}`);
    return json(errorStatus(error), {
      error: String(error?.message ?? error),
      remote_status: error?.response?.status ?? null,
    });
  }
}

// ---------------------------------------------------------------- lifecycle

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    log(`${signal}: exiting`);
    server.close();
    process.exit(0);
  });
}

log(`listening on ${BASE} as ${NAME}@127.0.0.1:${PORT} (first knock ${opts.firstKnock})`);
process.stdout.write(
  `${JSON.stringify({
    ready: true,
    base_url: BASE,
    actor: `${BASE}/users/${NAME}`,
    handle: `${NAME}@127.0.0.1:${PORT}`,
  })}\n`,
);
