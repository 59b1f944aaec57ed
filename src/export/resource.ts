import * as os from 'node:os';
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
