// A client written against the SDK @hey-api/openapi-ts generates from schema.yml (into ./generated).
// tsc --strict checks it; run with node it prints what the server answered, for tests/test_clients.py.
import { createClient } from "./generated/client";
import { comparisonsRetrieve, toolsVoteRetrieve, toolsVoteUpdate } from "./generated/sdk.gen";
import type { Comparison, NullableVerdictEnum } from "./generated/types.gen";

const [baseUrl, partnerKey, voterToken] = process.argv.slice(2);

// One auth callback for both schemes: the generated SDK says which header each operation takes.
const client = createClient({
  baseUrl,
  auth: (scheme) => (scheme.type === "apiKey" ? partnerKey : voterToken),
});
const partnerOnly = createClient({ baseUrl, auth: (scheme) => (scheme.type === "apiKey" ? partnerKey : undefined) });

async function main(): Promise<void> {
  const seed = await comparisonsRetrieve({ client: partnerOnly, path: { pair: "code-llama-4-vs-mistral-large-3" } });
  const document: Comparison | undefined = seed.data;
  const verdict: NullableVerdictEnum | undefined = document?.scorecard[3].reviews[0].verdict;
  const cast = await toolsVoteUpdate({ client, path: { slug: "code-llama-4" }, body: { verdict: "ship" } });
  const readBack = await toolsVoteRetrieve({ client, path: { slug: "code-llama-4" } });
  console.log(
    JSON.stringify({
      seed: seed.response?.status ?? null,
      tier_limit: seed.response?.headers.get("RateLimit-Limit") ?? null,
      ship_rate: document?.tools[0].panel.ship_rate ?? null,
      verdict: verdict ?? null,
      cast: cast.response?.status ?? null,
      read_back: readBack.data?.verdict ?? null,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
