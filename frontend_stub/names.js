// The catalog (`GET /api/pipelines/`), fetched once per page load, and the
// display names it gives pipelines and providers (for breadcrumbs).

import { api } from "./api.js";
import { humanize } from "./render/dom.js";

let catalogPromise = null;

/** The catalog's pipelines, or null if it could not be loaded (asked again next time). */
export async function loadCatalog() {
  catalogPromise ??= api
    .catalog()
    .then(({ status, data }) => {
      return status === 200 && Array.isArray(data?.pipelines) ? data.pipelines : null;
    })
    .catch(() => null);
  const pipelines = await catalogPromise;
  if (pipelines === null) catalogPromise = null;
  return pipelines;
}

/** `{pipeline(name), provider(pipeline, key)}`: titles, or the keys made readable. */
export async function loadNames() {
  const pipelines = (await loadCatalog()) ?? [];
  const byName = new Map(pipelines.map((pipeline) => [pipeline.name, pipeline]));
  return {
    pipeline: (name) => byName.get(name)?.title || humanize(name),
    provider: (pipeline, key) =>
      byName.get(pipeline)?.providers?.find((p) => p.key === key)?.name || humanize(key),
  };
}
