/**
 * The OpenTelemetry JS 3.x overlay of the Node 24 test run (compat/otel3/test.sh): loaded with
 * `--import` (through NODE_OPTIONS, so every child process the tests start has it too), it
 * resolves each `@opentelemetry/*` import of the repository's own code (src/, test/, dist/,
 * examples/) from compat/otel3/node_modules, where the 3.x line is installed, instead of the
 * root node_modules (the 2.x line). ES modules ignore NODE_PATH; a resolve hook is the one
 * switch that leaves the working tree as it is. Packages resolve their own dependencies as
 * usual, so the 3.x packages find each other, one copy each (npm ls in compat/otel3).
 * module.registerHooks (Node >= 22.15) covers import and require() alike.
 */
import { createRequire, registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

const here = new URL('./', import.meta.url);
const repo = new URL('../../', here).href;
/** Where a 3.x resolution starts: a file in compat/otel3, whose node_modules holds the line. */
const compatParent = new URL('package.json', here).href;
/** require() resolves from the parent module, not from the parentURL a hook passes on. */
const compatRequire = createRequire(compatParent);

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (specifier.startsWith('@opentelemetry/') && parent?.startsWith(repo) && !parent.startsWith(here.href) && !parent.includes('/node_modules/')) {
      if (context.conditions?.includes('require')) return { url: pathToFileURL(compatRequire.resolve(specifier)).href, shortCircuit: true };
      return nextResolve(specifier, { ...context, parentURL: compatParent });
    }
    return nextResolve(specifier, context);
  },
});
