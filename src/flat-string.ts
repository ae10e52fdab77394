// A string built from pieces (path.join, `+`, a template) stays in V8 a tree of those pieces
// until something reads it whole: a 40-character path from path.join held 363 bytes of heap, 80
// once flat (measured with Node 20). The agent keeps some of these for its whole life, per
// container (its paths, file stamps, spec hashes); they are flattened as they are made. Reading
// one character is what flattens a string in place; the GC then lets the pieces go. Pure.

/** `s`, flattened in place. */
export function flat(s: string): string {
  s.charCodeAt(0);
  return s;
}
