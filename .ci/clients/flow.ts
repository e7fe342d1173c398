// A mini-program's flow through the types openapi-typescript generates
// from the server's own document, with openapi-fetch (its typed fetch;
// .ci/openapi-checks.sh): compiled by tsc --strict, then run against the
// live server. Answers are the schemas' types; a join sends no body.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type EventView = components["schemas"]["EventView"];

const [base, run] = process.argv.slice(2);

function check(ok: boolean, what: string, seen?: unknown): asserts ok {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(seen)}`);
}

async function signedIn(name: string) {
  const anonymous = createClient<paths>({ baseUrl: base });
  const { data, error } = await anonymous.POST("/api/v1/auth/login", { body: { code: `dev:${name}` } });
  check(data !== undefined, "login", error);
  const client = createClient<paths>({
    baseUrl: base,
    headers: { Authorization: `Bearer ${data.data.token}` },
  });
  return { client, id: data.data.user.id };
}

async function main(): Promise<void> {
  const creator = await signedIn(`ts_creator_${run}`);
  const joiner = await signedIn(`ts_joiner_${run}`);
  const drawAt = new Date(Date.now() + 3600_000).toISOString();
  const created = await creator.client.POST("/api/v1/events", {
    body: { title: "generated types", draw_at: drawAt, draw_mode: "manual", prizes: [{ name: "mug", quantity: 1 }] },
  });
  check(created.data !== undefined, "create", created.error);
  const event: EventView = created.data.data;
  check(event.status === "open" && event.drawn_at === null, "a new event", event);
  const id = { params: { path: { id: event.id } } };

  const joined = await joiner.client.PUT("/api/v1/events/{id}/participants/me", id);
  check(joined.data?.data.joined === true, "join without a body", joined.error);
  const drawn = await creator.client.POST("/api/v1/events/{id}/draw", id);
  check(drawn.data?.data.status === "drawn", "draw", drawn.error);
  const seen = await joiner.client.GET("/api/v1/events/{id}", id);
  check(seen.data?.data.me?.prize != null, "the winner sees the prize", seen.data);
  const listed = await joiner.client.GET("/api/v1/events/{id}/winners", id);
  check(listed.data?.data.items[0]?.user.id === joiner.id, "winners", listed.data);
  const won = await joiner.client.GET("/api/v1/me/events", { params: { query: { role: "won" } } });
  check(won.data?.data.items.map((e) => e.id).join() === `${event.id}`, "won events", won.data);
  // An error keeps its envelope (the operations' `default` answer).
  const missing = await joiner.client.GET("/api/v1/events/{id}", { params: { path: { id: 999999999 } } });
  check(missing.error?.code === 40400, "a 404's envelope", missing.error);
  console.log(`typescript client: event ${event.id} created, joined, drawn, won`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
