/** esbuild bundles these (console/build.mjs): CSS into the page's stylesheet, SVG as a hashed file. */
declare module '*.css';
declare module '*.svg' {
  const url: string;
  export default url;
}
