// A minimal typed client over the generated schema types: if the schema stops
// describing these fields, or their types change, this file stops compiling.
import type { components, paths } from "./schema";

type Comparison = paths["/api/v1/comparisons/{pair}/"]["get"]["responses"][200]["content"]["application/json"];
type Tally = components["schemas"]["Tally"];

export function panelShipRates(comparison: Comparison): Array<number | null> {
  return comparison.tools.map((tool) => tool.panel.ship_rate);
}

export function communityLabel(tally: Tally): string {
  return tally.ship_rate === null ? "—" : `${Math.round(tally.ship_rate * 100)}%`;
}

export function splitReviewers(comparison: Comparison): string[] {
  return comparison.scorecard.filter((row) => row.split).map((row) => row.reviewer.name);
}

export async function fetchComparison(baseUrl: string, pair: string, apiKey: string): Promise<Comparison> {
  const response = await fetch(`${baseUrl}/api/v1/comparisons/${pair}/`, {
    headers: { Authorization: `Api-Key ${apiKey}` },
  });
  return (await response.json()) as Comparison;
}
