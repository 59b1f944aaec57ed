/**
 * The trimmed .proto files under proto/ against the official ones they were cut from (Debian's
 * golang-github-kubernetes-cri-api-dev and golang-github-containerd-containerd-dev, installed by
 * `bash scripts/install-peers.sh`): every service method, message, field and enum value the copy
 * keeps has the upstream name, number, type and label, so the copy can never drift from the wire
 * format the runtimes speak. Both files are parsed with protobufjs; the gogoproto imports of the
 * official files are not followed (their options do not change the wire format).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import protobuf from 'protobufjs';
import { REPO_ROOT } from '../helpers/peers.ts';

const GOCODE = '/usr/share/gocode/src';

const PAIRS = [
  {
    trimmed: 'proto/cri/api.proto',
    upstream: path.join(GOCODE, 'k8s.io/cri-api/pkg/apis/runtime/v1/api.proto'),
    pkg: 'golang-github-kubernetes-cri-api-dev',
  },
  {
    trimmed: 'proto/containerd/containers.proto',
    upstream: path.join(GOCODE, 'github.com/containerd/containerd/api/services/containers/v1/containers.proto'),
    pkg: 'golang-github-containerd-containerd-dev',
  },
] as const;

/** A .proto file parsed on its own, with protobufjs's well-known google.protobuf types beside it, and every type resolved. */
function parseProto(file: string): protobuf.Root {
  const root = new protobuf.Root();
  for (const wkt of ['google/protobuf/timestamp.proto', 'google/protobuf/any.proto', 'google/protobuf/empty.proto', 'google/protobuf/field_mask.proto']) {
    const json = protobuf.common.get(wkt);
    if (json) root.addJSON(json.nested ?? {});
  }
  protobuf.parse(fs.readFileSync(file, 'utf8'), root, { keepCase: true, alternateCommentMode: false });
  root.resolveAll();
  return root;
}

/** Every message, enum and service declared in the file's own package (not the well-known types). */
function declared(root: protobuf.Root): protobuf.ReflectionObject[] {
  const out: protobuf.ReflectionObject[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const o of ns.nestedArray) {
      if (o.fullName.startsWith('.google.protobuf.')) continue;
      if (o instanceof protobuf.Type || o instanceof protobuf.Enum || o instanceof protobuf.Service) out.push(o);
      if (o instanceof protobuf.Namespace || o instanceof protobuf.Type) walk(o);
    }
  };
  walk(root);
  return out;
}

/** A field's wire identity: number, label, key type (maps) and the fully qualified type (or the scalar's name). */
function fieldShape(f: protobuf.Field): string {
  const type = f.resolvedType ? f.resolvedType.fullName : f.type;
  const map = f instanceof protobuf.MapField ? `map<${f.keyType}> ` : '';
  return `${f.id} ${f.repeated ? 'repeated ' : ''}${map}${type}`;
}

function methodShape(m: protobuf.Method): string {
  return `${m.requestStream ? 'stream ' : ''}${m.resolvedRequestType?.fullName} -> ${m.responseStream ? 'stream ' : ''}${m.resolvedResponseType?.fullName}`;
}

for (const pair of PAIRS) {
  describe(`${pair.trimmed} matches upstream`, () => {
    it(`has the official file to compare with (${pair.pkg})`, () => {
      assert.ok(fs.existsSync(pair.upstream), `${pair.upstream} is missing: install the Debian package ${pair.pkg} (bash scripts/install-peers.sh)`);
    });

    it('keeps every message field, enum value and method exactly as upstream declares it', () => {
      const trimmed = parseProto(path.join(REPO_ROOT, pair.trimmed));
      const upstream = parseProto(pair.upstream);
      const items = declared(trimmed);
      assert.ok(items.length > 0, `${pair.trimmed} declares nothing`);
      let fields = 0;
      for (const item of items) {
        const theirs = upstream.lookup(item.fullName);
        assert.ok(theirs, `${item.fullName} (in ${pair.trimmed}) does not exist upstream`);
        if (item instanceof protobuf.Type) {
          assert.ok(theirs instanceof protobuf.Type, `${item.fullName} is a message here but not upstream`);
          for (const f of item.fieldsArray) {
            const u: protobuf.Field | undefined = theirs.fields[f.name];
            assert.ok(u, `${item.fullName}.${f.name} does not exist upstream`);
            assert.equal(fieldShape(f), fieldShape(u), `${item.fullName}.${f.name} differs from upstream`);
            fields++;
          }
        } else if (item instanceof protobuf.Enum) {
          assert.ok(theirs instanceof protobuf.Enum, `${item.fullName} is an enum here but not upstream`);
          for (const [name, value] of Object.entries(item.values)) assert.equal(value, theirs.values[name], `${item.fullName}.${name} differs from upstream`);
        } else if (item instanceof protobuf.Service) {
          assert.ok(theirs instanceof protobuf.Service, `${item.fullName} is a service here but not upstream`);
          for (const m of item.methodsArray) {
            const u: protobuf.Method | undefined = theirs.methods[m.name];
            assert.ok(u, `${item.fullName}.${m.name} does not exist upstream`);
            assert.equal(methodShape(m), methodShape(u), `${item.fullName}.${m.name} differs from upstream`);
          }
        }
      }
      assert.ok(fields > 0, `${pair.trimmed} has no fields`);
    });

    it('names its upstream file and says it is trimmed', () => {
      const head = fs.readFileSync(path.join(REPO_ROOT, pair.trimmed), 'utf8').slice(0, 600);
      assert.match(head, /TRIMMED/);
      assert.ok(head.includes(pair.upstream.slice(GOCODE.length + 1)), `the header of ${pair.trimmed} does not name ${pair.upstream}`);
      const text = fs.readFileSync(path.join(REPO_ROOT, pair.trimmed), 'utf8');
      assert.doesNotMatch(text, /^\s*import\s+(weak\s+)?"[^"]*gogo/m, 'a gogoproto import is left');
      assert.doesNotMatch(text, /\(gogoproto\./, 'a gogoproto option is left');
    });
  });
}

describe('the drift check itself', () => {
  it('catches a field whose number or type differs from upstream', () => {
    const upstream = parseProto(PAIRS[1].upstream);
    const tmp = fs.mkdtempSync(path.join(fs.realpathSync('/tmp'), 'ocm-proto-'));
    try {
      const bad = path.join(tmp, 'bad.proto');
      fs.writeFileSync(
        bad,
        fs
          .readFileSync(path.join(REPO_ROOT, PAIRS[1].trimmed), 'utf8')
          .replace('string snapshotter = 6;', 'string snapshotter = 7;')
          .replace('string image = 3;', 'bytes image = 3;'),
      );
      const container = parseProto(bad).lookupType('containerd.services.containers.v1.Container');
      const theirs = upstream.lookupType('containerd.services.containers.v1.Container');
      assert.notEqual(fieldShape(container.fields.snapshotter as protobuf.Field), fieldShape(theirs.fields.snapshotter as protobuf.Field));
      assert.notEqual(fieldShape(container.fields.image as protobuf.Field), fieldShape(theirs.fields.image as protobuf.Field));
      assert.equal(fieldShape(container.fields.created_at as protobuf.Field), fieldShape(theirs.fields.created_at as protobuf.Field));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
