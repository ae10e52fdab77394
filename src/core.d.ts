// Web-standard globals the pure core may use. They exist in Node and in browsers alike, so using
// them does not tie the core to Node; declaring them here keeps `types: []` in tsconfig.core.json.

interface TextDecoderOptions {
  fatal?: boolean;
  ignoreBOM?: boolean;
}
declare class TextDecoder {
  constructor(label?: string, options?: TextDecoderOptions);
  decode(input?: Uint8Array): string;
}
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
