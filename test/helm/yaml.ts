// A parser for the plain subset of YAML the chart's values files keep to, so the checks need no YAML library
// (the project has none of its own). Block mappings and sequences, `#` comments, plain, single- and
// double-quoted scalars, and JSON-style flow collections. Everything else is refused with its line number
// rather than guessed at: anchors, tags, multi-line strings, nulls, and the plain words YAML 1.1 (which Helm
// follows) reads as booleans or octal numbers, so that what this parser reads is what Helm reads.

export type YamlValue = string | number | boolean | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  indent: number;
  text: string;
  number: number;
}

export class YamlError extends Error {
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "YamlError";
  }
}

export function parseYaml(source: string): YamlValue {
  const lines = toLines(source);
  if (lines.length === 0) return {};
  const state = { lines, next: 0 };
  const value = parseBlock(state, (lines[0] as Line).indent);
  const extra = lines[state.next];
  if (extra) throw new YamlError(extra.number, "unexpected indentation");
  return value;
}

function toLines(source: string): Line[] {
  const out: Line[] = [];
  for (const [i, raw] of source.split("\n").entries()) {
    if (raw.includes("\t")) throw new YamlError(i + 1, "tab character");
    const text = stripComment(raw).trimEnd();
    if (text.trim() === "") continue;
    if (text.trim() === "---" && out.length === 0) continue;
    const indent = text.length - text.trimStart().length;
    out.push({ indent, text: text.trimStart(), number: i + 1 });
  }
  return out;
}

/** Drops a `#` comment that starts a line or follows a space, outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "#" && (i === 0 || line[i - 1] === " ")) {
      return line.slice(0, i);
    }
  }
  return line;
}

interface State {
  lines: Line[];
  next: number;
}

function parseBlock(state: State, indent: number): YamlValue {
  const line = state.lines[state.next] as Line;
  return isItem(line.text) ? parseSequence(state, indent) : parseMapping(state, indent);
}

function isItem(text: string): boolean {
  return text === "-" || text.startsWith("- ");
}

const KEY = /^("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_][A-Za-z0-9_./-]*):(?:\s+(.*))?$/;

function parseMapping(state: State, indent: number): { [key: string]: YamlValue } {
  const out: { [key: string]: YamlValue } = {};
  for (let line = state.lines[state.next]; line && line.indent === indent; line = state.lines[state.next]) {
    if (isItem(line.text)) throw new YamlError(line.number, "a list item where a key was expected");
    const m = KEY.exec(line.text);
    if (!m) throw new YamlError(line.number, `expected "key: value", got ${JSON.stringify(line.text)}`);
    const key = unquoteKey(m[1] as string, line.number);
    if (Object.hasOwn(out, key)) throw new YamlError(line.number, `duplicate key ${key}`);
    state.next++;
    out[key] = m[2] === undefined ? parseNested(state, indent, line) : parseScalar(m[2], line.number);
  }
  return out;
}

/** The value of `key:` with nothing after it: a deeper block, or a list at the key's own indentation. */
function parseNested(state: State, indent: number, keyLine: Line): YamlValue {
  const next = state.lines[state.next];
  if (next && next.indent > indent) return parseBlock(state, next.indent);
  if (next && next.indent === indent && isItem(next.text)) return parseSequence(state, indent);
  throw new YamlError(keyLine.number, 'empty value (null is not accepted; write {} or [] or "")');
}

function parseSequence(state: State, indent: number): YamlValue[] {
  const out: YamlValue[] = [];
  for (let line = state.lines[state.next]; line && line.indent === indent; line = state.lines[state.next]) {
    if (!isItem(line.text)) break;
    const rest = line.text.slice(1).trimStart();
    if (rest === "") {
      state.next++;
      const next = state.lines[state.next];
      if (!next || next.indent <= indent) throw new YamlError(line.number, "empty list item");
      out.push(parseBlock(state, next.indent));
    } else if (KEY.test(rest) || isItem(rest)) {
      // "- key: value": the item is a block that starts on this line, indented to where the key starts.
      const itemIndent = indent + (line.text.length - rest.length);
      state.lines[state.next] = { indent: itemIndent, text: rest, number: line.number };
      out.push(parseBlock(state, itemIndent));
    } else {
      state.next++;
      out.push(parseScalar(rest, line.number));
    }
  }
  return out;
}

function unquoteKey(raw: string, line: number): string {
  if (raw.startsWith('"')) return JSON.parse(raw) as string;
  if (raw.startsWith("'")) return raw.slice(1, -1);
  const value = parseScalar(raw, line);
  if (typeof value !== "string") throw new YamlError(line, `key ${raw} is not a string; quote it`);
  return value;
}

const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;
const YAML11_WORDS = /^(y|n|yes|no|on|off|true|false|null|~)$/i;

function parseScalar(raw: string, line: number): YamlValue {
  const text = raw.trim();
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text) as string;
    } catch {
      throw new YamlError(line, `bad double-quoted string ${text}`);
    }
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) throw new YamlError(line, `bad single-quoted string ${text}`);
    return text.slice(1, -1).replaceAll("''", "'");
  }
  if (text.startsWith("[") || text.startsWith("{")) {
    try {
      return JSON.parse(text) as YamlValue;
    } catch {
      throw new YamlError(line, `flow collections must be JSON here: ${text}`);
    }
  }
  if (text === "true" || text === "false") return text === "true";
  if (YAML11_WORDS.test(text))
    throw new YamlError(line, `${text} is ambiguous between YAML versions; quote it`);
  if (NUMBER.test(text)) return Number(text);
  if (/^[-+]?[0-9]/.test(text) && /^[-+0-9._:eExXoObB]+$/.test(text))
    throw new YamlError(line, `${text} reads as a number in some YAML versions; quote it`);
  if (/^[&*!|>%@`]/.test(text))
    throw new YamlError(line, `${text[0]} starts a YAML feature this parser refuses`);
  if (text.includes(": ") || text.endsWith(":")) throw new YamlError(line, `unquoted ": " in ${text}`);
  return text;
}
