// Jest runs each test file in its own vm realm, so typed arrays made by onnxruntime-node's native addon
// (main realm) fail onnxruntime-common's `instanceof Float32Array` checks inside the test realm
// (jestjs/jest#2549). Test files that run ONNX models share the main realm's typed-array constructors.
import { TestEnvironment } from 'jest-environment-node';

const SHARED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
];

export default class OnnxTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}
