// A small builder for ONNX ModelProto bytes (opset 17, IR version 8), on the protobufjs schema of
// `onnx-proto`. Generic on purpose: the CLIP text encoder and the benchmark's motion-module attention
// graph are both written with it. Values are named by strings; `node()` invents unique output names.
// onnx-proto is CommonJS (`module.exports = $root`): a default import works in Node ESM and Vite.
import onnxProto from 'onnx-proto';
import type { onnx as P } from 'onnx-proto';

const { onnx } = onnxProto;

export type OnnxDType = 'float32' | 'float16' | 'int32' | 'int64' | 'bool';

/** A graph dimension: a fixed size or a symbolic name (e.g. 'batch'). */
export type Dim = number | string;

/**
 * Node attribute values. Bare numbers are INT attributes and number arrays INTS (the common case:
 * axis, perm, …); floats must be tagged, `{ float: 1e-5 }` / `{ floats: [...] }`, because `1` vs `1.0`
 * cannot be told apart in JavaScript.
 */
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

/** Element types of `onnx.TensorProto.DataType`. */
const DATA_TYPE: Record<OnnxDType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float16: 10 };

export const ONNX_OPSET = 17;
const IR_VERSION = 8;

type InitializerData = Float32Array | Int32Array | BigInt64Array | Uint16Array;

function dtypeOf(data: InitializerData, f16: boolean): OnnxDType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint16Array && f16) return 'float16';
  throw new Error('onnx initializer: unsupported array type');
}

function valueInfo(name: string, dtype: OnnxDType, dims?: Dim[]): P.IValueInfoProto {
  const shape = dims ? { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } : undefined;
  return { name, type: { tensorType: { elemType: DATA_TYPE[dtype], shape } } };
}

function attribute(name: string, v: AttrValue): P.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`onnx attribute ${name}=${v}: bare numbers are INT; tag floats as { float: x }`);
    return { name, type: T.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) {
    if (!v.every(Number.isInteger)) throw new Error(`onnx attribute ${name}: INTS must be integers; tag floats as { floats: [...] }`);
    return { name, type: T.INTS, ints: v };
  }
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}

export class OnnxGraphBuilder {
  private readonly inputs: P.IValueInfoProto[] = [];
  private readonly outputs: P.IValueInfoProto[] = [];
  private readonly initializers: P.ITensorProto[] = [];
  private readonly nodes: P.INodeProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;

  constructor(readonly graphName: string) {}

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`onnx graph ${this.graphName}: value name '${name}' is already used`);
    this.names.add(name);
    return name;
  }

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`; while (this.names.has(name));
    return this.claim(name);
  }

  /** Declares a graph input; returns its name. */
  input(name: string, dtype: OnnxDType, dims: Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), dtype, dims));
    return name;
  }

  /**
   * Marks the value `value` as a graph output named `name` (an Identity node renames it when the
   * names differ). `dims` may be omitted: ORT infers output shapes.
   */
  output(value: string, name: string = value, dtype: OnnxDType = 'float32', dims?: Dim[]): string {
    if (!this.names.has(value)) throw new Error(`onnx graph ${this.graphName}: output source '${value}' does not exist`);
    if (name !== value) this.nodes.push({ opType: 'Identity', input: [value], output: [this.claim(name)], name: `out_${name}` });
    this.outputs.push(valueInfo(name, dtype, dims));
    return name;
  }

  /**
   * Adds a constant tensor (weights). Float32Array → float32, Int32Array → int32, BigInt64Array →
   * int64, Uint16Array → float16 bits only when `float16: true`. Returns its name (`name` or a fresh one).
   */
  initializer(data: InitializerData, dims: number[], name?: string, opts: { float16?: boolean } = {}): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new Error(`onnx initializer ${name ?? ''}: dims [${dims}] hold ${count} elements but the data has ${data.length}`);
    }
    const n = name ? this.claim(name) : this.fresh('const');
    const dtype = dtypeOf(data, !!opts.float16);
    const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name: n, dims, dataType: DATA_TYPE[dtype], rawData });
    return n;
  }

  /** An int64 constant (shapes for Reshape, starts/ends for Slice, …). */
  int64(values: number[], dims: number[] = [values.length]): string {
    return this.initializer(BigInt64Array.from(values.map((v) => BigInt(v))), dims);
  }

  /** A float32 constant; a scalar when `dims` is []. */
  float32(values: number[] | Float32Array, dims: number[] = [values.length]): string {
    return this.initializer(Float32Array.from(values), dims);
  }

  /** Adds one node with a single output; returns the output's name. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    return this.nodeN(opType, inputs, 1, attrs, name)[0];
  }

  /** Adds one node with `numOutputs` outputs (Split, …); returns their names. */
  nodeN(opType: string, inputs: string[], numOutputs: number, attrs: Record<string, AttrValue> = {}, name?: string): string[] {
    for (const i of inputs) {
      // '' is ONNX's "optional input left out".
      if (i !== '' && !this.names.has(i)) throw new Error(`onnx graph ${this.graphName}: ${opType} input '${i}' does not exist`);
    }
    const base = name ?? opType.toLowerCase();
    const outputs = Array.from({ length: numOutputs }, () => this.fresh(base));
    this.nodes.push({
      opType,
      input: inputs,
      output: outputs,
      name: outputs[0],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** Serialises the model. Initializer data is copied into the returned buffer. */
  toBytes(producer = 'animatediff-web'): Uint8Array {
    if (this.outputs.length === 0) throw new Error(`onnx graph ${this.graphName}: no outputs declared`);
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: producer,
      graph: {
        name: this.graphName,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
        node: this.nodes,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
