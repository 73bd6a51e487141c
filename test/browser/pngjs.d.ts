/** The part of pngjs (untyped) the browser tests use: decoding a screenshot into RGBA pixels. */
declare module 'pngjs' {
  export const PNG: { sync: { read(buffer: Buffer): { width: number; height: number; data: Buffer } } };
}
