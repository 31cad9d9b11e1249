// The .Values paths a Helm template reads, which helm itself does not check (it renders a missing one as
// empty, even with --strict). The path check follows what `.` and `$variables` stand for through the patterns
// the chart uses, and refuses the rest, so a template that leaves them fails here rather than going unchecked:
// - `.Values.a.b` and `$.Values.a.b`; `$x := <field chain>` binds $x to that chain;
// - `range [$k,] $v := <chain>` and `range <chain>`: `.` and $v are an element (path segment "*");
// - `with <chain>`: `.` is the chain, and the outer `.` again after `else`;
// - inside `define`, `.` and `$` are the helper's argument: the root context (`.Values`, `.Release`…) or a
//   dict whose "root" is the root context and whose "link" is an entry of .Values.links; its other key
//   (component) is a plain argument.

export interface Action {
  /** Between the delimiters, without trim markers, trimmed. */
  text: string;
  line: number;
  /** Offsets of the opening "{{" and just past the closing "}}". */
  start: number;
  end: number;
}

export interface ValuesUse {
  /** Segments after .Values; "*" stands for any element of a list or value of a map. */
  path: string[];
  line: number;
}

const BUILTINS = new Set(["Release", "Chart", "Capabilities", "Files", "Template"]);

/** Every action of a template, or problems when a delimiter is unbalanced. */
export function scanActions(source: string): { actions: Action[]; problems: string[] } {
  const actions: Action[] = [];
  const problems: string[] = [];
  const lineAt = (index: number) => source.slice(0, index).split("\n").length;
  let from = 0;
  while (from < source.length) {
    const open = source.indexOf("{{", from);
    const textEnd = open === -1 ? source.length : open;
    const stray = source.slice(from, textEnd).indexOf("}}");
    if (stray !== -1) problems.push(`line ${lineAt(from + stray)}: "}}" outside an action`);
    if (open === -1) break;
    const close = actionEnd(source, open + 2);
    if (close === -1) {
      problems.push(`line ${lineAt(open)}: "{{" is never closed`);
      break;
    }
    let text = source.slice(open + 2, close);
    if (/^-\s/.test(text)) text = text.slice(1);
    if (/\s-$/.test(text)) text = text.slice(0, -1);
    actions.push({ text: text.trim(), line: lineAt(open), start: open, end: close + 2 });
    from = close + 2;
  }
  return { actions, problems };
}

/** Index of the "}}" closing an action whose body starts at `start`, skipping strings and comments; -1 if none. */
function actionEnd(source: string, start: number): number {
  let i = start;
  while (i < source.length) {
    const c = source[i];
    if (source.startsWith("/*", i)) {
      const end = source.indexOf("*/", i + 2);
      if (end === -1) return -1;
      i = end + 2;
    } else if (c === '"' || c === "'") {
      i++;
      while (i < source.length && source[i] !== c && source[i] !== "\n") i += source[i] === "\\" ? 2 : 1;
      if (source[i] !== c) return -1;
      i++;
    } else if (c === "`") {
      const end = source.indexOf("`", i + 1);
      if (end === -1) return -1;
      i = end + 1;
    } else if (source.startsWith("}}", i)) {
      return i;
    } else {
      i++;
    }
  }
  return -1;
}

function keyword(action: Action): string {
  return /^([a-z]+)\b/.exec(action.text)?.[1] ?? "";
}

function isComment(action: Action): boolean {
  return action.text.startsWith("/*");
}

type Ctx =
  | { kind: "root" }
  | { kind: "values"; path: string[] }
  | { kind: "args" }
  | { kind: "builtin" }
  | { kind: "opaque" };

interface Frame {
  word: string;
  dot: Ctx;
  outerDot: Ctx;
  vars: Map<string, Ctx>;
}

const CHAIN = /(?<![\w).\]$])(\$\w*)?((?:\.[A-Za-z_]\w*)+)/g;
const EXACT_CHAIN = /^(\$\w*)?((?:\.[A-Za-z_]\w*)+)$/;
const ROOT: Ctx = { kind: "root" };
const OPAQUE: Ctx = { kind: "opaque" };

/** Every .Values path the actions read, or problems where the check cannot tell what a field belongs to. */
export function valuesUses(actions: Action[]): { uses: ValuesUse[]; problems: string[] } {
  const uses: ValuesUse[] = [];
  const problems: string[] = [];
  const frames: Frame[] = [{ word: "", dot: ROOT, outerDot: ROOT, vars: new Map([["$", ROOT]]) }];
  const top = () => frames.at(-1) as Frame;

  const lookup = (name: string, line: number): Ctx => {
    for (let i = frames.length - 1; i >= 0; i--) {
      const found = frames[i]?.vars.get(name);
      if (found) return found;
      if (frames[i]?.word === "define") break;
    }
    problems.push(`line ${line}: ${name} is not declared`);
    return OPAQUE;
  };

  const resolve = (variable: string | undefined, fields: string[], line: number): Ctx => {
    const base = variable === undefined ? top().dot : lookup(variable, line);
    const ctx = follow(base, fields);
    if (ctx === null) {
      problems.push(`line ${line}: cannot tell what ${variable ?? ""}.${fields.join(".")} refers to`);
      return OPAQUE;
    }
    if (ctx.kind === "values") uses.push({ path: ctx.path, line });
    return ctx;
  };

  const readChains = (text: string, line: number) => {
    for (const m of text.matchAll(CHAIN)) resolve(m[1], (m[2] as string).slice(1).split("."), line);
  };

  /** What an expression stands for, when it is a single field chain, a variable or the dot. */
  const exprCtx = (expr: string, line: number): Ctx => {
    const text = expr.trim();
    const m = EXACT_CHAIN.exec(text);
    if (m) return resolve(m[1], (m[2] as string).slice(1).split("."), line);
    readChains(text, line);
    if (text === ".") return top().dot;
    if (/^\$\w*$/.test(text)) return lookup(text, line);
    return OPAQUE;
  };

  for (const action of actions) {
    if (isComment(action)) continue;
    const text = stripStrings(action.text);
    const word = keyword(action);
    const { line } = action;
    if (word === "define") {
      const args: Ctx = { kind: "args" };
      frames.push({ word, dot: args, outerDot: args, vars: new Map([["$", args]]) });
    } else if (word === "range") {
      const m = /^range\s+(?:(\$\w+)\s*,\s*)?(\$\w+)\s*:=\s*(.+)$/.exec(text);
      const over = exprCtx(m ? (m[3] as string) : text.slice("range".length), line);
      const element: Ctx = over.kind === "values" ? { kind: "values", path: [...over.path, "*"] } : OPAQUE;
      const vars = new Map<string, Ctx>();
      if (m?.[1]) vars.set(m[1], OPAQUE);
      if (m?.[2]) vars.set(m[2], element);
      frames.push({ word, dot: element, outerDot: top().dot, vars });
    } else if (word === "with") {
      const dot = exprCtx(text.slice("with".length), line);
      frames.push({ word, dot, outerDot: top().dot, vars: new Map() });
    } else if (word === "if") {
      readChains(text, line);
      frames.push({ word, dot: top().dot, outerDot: top().dot, vars: new Map() });
    } else if (word === "else") {
      const frame = top();
      frame.dot = frame.outerDot;
      frame.vars = new Map();
      readChains(text, line);
    } else if (word === "end") {
      if (frames.length > 1) frames.pop();
    } else {
      const assign = /^(\$\w+)\s*(:?=)\s*(.+)$/.exec(text);
      if (assign) {
        const ctx = exprCtx(assign[3] as string, line);
        if (assign[2] === ":=") top().vars.set(assign[1] as string, ctx);
        else lookup(assign[1] as string, line);
      } else {
        readChains(text, line);
      }
    }
  }
  return { uses, problems };
}

/** Where fields lead from a context; null when the check cannot follow. */
function follow(base: Ctx, fields: string[]): Ctx | null {
  const [first, ...rest] = fields;
  if (first === undefined) return base;
  switch (base.kind) {
    case "values":
      return { kind: "values", path: [...base.path, ...fields] };
    case "builtin":
      return base;
    case "root":
      if (first === "Values") return { kind: "values", path: rest };
      return BUILTINS.has(first) ? { kind: "builtin" } : null;
    case "args":
      if (first === "root") return follow(ROOT, rest);
      if (first === "link") return { kind: "values", path: ["links", "*", ...rest] };
      if (first === "Values" || BUILTINS.has(first)) return follow(ROOT, fields);
      return rest.length === 0 ? OPAQUE : null;
    case "opaque":
      return null;
  }
}

/** Replaces string literals by empty ones, so their content is not read as code. */
function stripStrings(text: string): string {
  return text.replace(/"(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*'/g, '""');
}
