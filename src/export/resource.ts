import * as os from 'node:os';
import { ConfigError } from '../errors.ts';
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';

/**
 * The agent's resource: the SDK defaults, `service.name` otel-cgroup-metrics and the host
 * name, then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, which win.
 */
export function agentResource(): Resource {
  return defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'otel-cgroup-metrics', 'host.name': os.hostname() }))
    .merge(detectResources({ detectors: [envDetector] }));
}

/** The SDK's limit on a resource attribute's key and value (EnvDetector). */
const MAX_ATTRIBUTE_LENGTH = 255;

/**
 * OTEL_RESOURCE_ATTRIBUTES as the SDK's environment detector reads it: `key=value` entries,
 * comma-separated, `,` and `=` percent-encoded. The spec has the whole value discarded on any
 * bad entry (the SDK says so only at debug level): the agent refuses it instead, naming the
 * entry, so that no attribute is lost without a word.
 */
export function checkResourceAttributes(value: string, what: string): void {
  for (const entry of value.split(',')) {
    if (entry.trim() === '') continue;
    const bad = (why: string): ConfigError =>
      new ConfigError(`${what}: entry ${JSON.stringify(entry)} ${why}; the SDK would drop every attribute of the variable`);
    const parts = entry.split('=');
    if (parts.length !== 2) throw bad("is not key=value (an '=' or ',' inside a key or value must be percent-encoded)");
    const [key, val] = parts.map((p) => p.trim()) as [string, string];
    if (key === '') throw bad('has an empty key');
    let decoded: [string, string];
    try {
      decoded = [decodeURIComponent(key), decodeURIComponent(val)];
    } catch {
      throw bad('has a malformed percent-encoding');
    }
    if (decoded[0].length > MAX_ATTRIBUTE_LENGTH || decoded[1].length > MAX_ATTRIBUTE_LENGTH) throw bad(`is longer than ${MAX_ATTRIBUTE_LENGTH} characters`);
  }
}
