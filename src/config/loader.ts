import { dirname, isAbsolute, resolve } from 'node:path'
import * as z from 'zod'
import { ConfigError } from '../util/errors.js'
import { readTomlFile } from './toml.js'

/**
 * Layered configuration: defaults (in the schema) → file → environment → flags, deep-merged
 * (objects merge, arrays and scalars replace), validated by a strict zod schema, then frozen.
 * Every value remembers which layer set it, so an error names the file (or the environment
 * variable, or the flag), the key and what is wrong, in one line.
 */

export type Source =
  | { kind: 'file', path: string }
  | { kind: 'env', name: string }
  | { kind: 'flag', name: string }

export interface Layer {
  source: Source
  values: Record<string, unknown>
}

export function describeSource (source: Source): string {
  switch (source.kind) {
    case 'file': return source.path
    case 'env': return `environment variable ${source.name}`
    case 'flag': return `flag ${source.name}`
  }
}

type Plain = Record<string, unknown>

function isPlainObject (value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

/**
 * Key path segments that could reach an object's prototype when used as a property name. No
 * configuration key is named like this, so every layer refuses them outright (before merging),
 * whatever the parser or the merge would do with them.
 */
const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/** Throws a one-line ConfigError naming `source` if any segment of `path` is forbidden. */
export function assertSafePath (path: ReadonlyArray<string>, source: Source): void {
  const bad = path.find((part) => FORBIDDEN_KEYS.has(part))
  if (bad == null) return
  const where = describeSource(source)
  throw new ConfigError(`${where}: key "${path.join('.')}": "${bad}" is not allowed in a key path`, { source: where, key: path.join('.') })
}

/** An own property of `target`, never one inherited from its prototype. */
function own (target: Plain, key: string): unknown {
  return Object.hasOwn(target, key) ? target[key] : undefined
}

/** Defines an own, plain data property, so that no key can invoke a prototype setter. */
function define (target: Plain, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
}

/**
 * The merged values and, for every key path set by a layer, the layer that set it. A forbidden key
 * (`__proto__`, `constructor`, `prototype`) anywhere in any layer is a ConfigError naming its source.
 */
export function mergeLayers (layers: Layer[]): { values: Plain, provenance: Map<string, Source> } {
  const values: Plain = {}
  const provenance = new Map<string, Source>()
  const apply = (target: Plain, from: Plain, prefix: string[], source: Source): void => {
    for (const [key, value] of Object.entries(from)) {
      if (value === undefined) continue
      const path = [...prefix, key]
      assertSafePath(path, source)
      provenance.set(path.join('.'), source)
      if (isPlainObject(value)) {
        const existing = own(target, key)
        const child: Plain = isPlainObject(existing) ? existing : {}
        define(target, key, child)
        apply(child, value, path, source)
      } else {
        define(target, key, value)
      }
    }
  }
  for (const layer of layers) apply(values, layer.values, [], layer.source)
  return { values, provenance }
}

function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`
    else out += out === '' ? String(part) : `.${String(part)}`
  }
  return out
}

function describeValue (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Date) return 'a date'
  if (typeof value === 'object') return 'a table'
  if (typeof value === 'string') return `"${value.length > 60 ? value.slice(0, 57) + '...' : value}" (string)`
  return `${String(value)} (${Number.isInteger(value) ? 'integer' : typeof value})`
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'a boolean (true or false)',
  array: 'an array',
  object: 'a table'
}

/** The schema for a key path, looking through optional/default/pipe wrappers. */
function schemaAt (schema: z.ZodType, path: ReadonlyArray<PropertyKey>): z.ZodType | undefined {
  let current: z.ZodType | undefined = unwrap(schema)
  for (const part of path) {
    if (current == null) return undefined
    if (current instanceof z.ZodObject) current = unwrap((current.shape as Record<string, z.ZodType>)[String(part)])
    else if (current instanceof z.ZodArray) current = unwrap(current.element as z.ZodType)
    else return undefined
  }
  return current
}

function unwrap (schema: z.ZodType | undefined): z.ZodType | undefined {
  let current = schema
  for (let i = 0; i < 10 && current != null; i++) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType
    } else {
      break
    }
  }
  return current
}

export function knownKeys (schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  const at = schemaAt(schema, path)
  return at instanceof z.ZodObject ? Object.keys(at.shape as object) : []
}

/** Leaf type at a key path, used to coerce string values from env and flags. */
export function leafKind (schema: z.ZodType, path: ReadonlyArray<PropertyKey>): 'number' | 'boolean' | 'string' | 'object' | 'array' | 'unknown' {
  const at = schemaAt(schema, path)
  if (at instanceof z.ZodNumber) return 'number'
  if (at instanceof z.ZodBoolean) return 'boolean'
  if (at instanceof z.ZodString || at instanceof z.ZodEnum) return 'string'
  if (at instanceof z.ZodObject) return 'object'
  if (at instanceof z.ZodArray) return 'array'
  return 'unknown'
}

/** Turns a string from the environment or a flag into the type the schema wants, when it can. */
export function coerceString (schema: z.ZodType, path: string[], raw: string): unknown {
  switch (leafKind(schema, path)) {
    case 'number': {
      const n = Number(raw)
      return raw.trim() !== '' && Number.isFinite(n) ? n : raw
    }
    case 'boolean':
      if (raw === 'true') return true
      if (raw === 'false') return false
      return raw
    case 'array':
      return raw === '' ? [] : raw.split(',').map((s) => s.trim())
    default:
      return raw
  }
}

/**
 * Sets a dotted path (`http.port`) in a nested plain object, as own properties only. Callers check
 * the path with assertSafePath first (to name the source); a forbidden segment still throws here.
 */
export function setPath (target: Plain, path: string[], value: unknown): void {
  const bad = path.find((part) => FORBIDDEN_KEYS.has(part))
  if (bad != null) throw new ConfigError(`key "${path.join('.')}": "${bad}" is not allowed in a key path`, { key: path.join('.') })
  let node = target
  for (const part of path.slice(0, -1)) {
    let next = own(node, part)
    if (!isPlainObject(next)) {
      next = {}
      define(node, part, next)
    }
    node = next as Plain
  }
  define(node, path[path.length - 1] as string, value)
}

/**
 * Environment layer: `${prefix}HTTP__PORT=8080` sets `http.port` (double underscore between
 * levels, names lower-cased). Variables whose first level is not a top-level key of the schema
 * are ignored (they belong to something else); below that, unknown keys are errors.
 */
export function envLayer (schema: z.ZodType, prefix: string, env: NodeJS.ProcessEnv): Layer[] {
  const top = new Set(knownKeys(schema, []))
  const layers: Layer[] = []
  for (const [name, raw] of Object.entries(env)) {
    if (raw == null || !name.startsWith(prefix)) continue
    const path = name.slice(prefix.length).toLowerCase().split('__')
    if (!top.has(path[0] as string)) continue
    const source: Source = { kind: 'env', name }
    assertSafePath(path, source)
    const values: Plain = {}
    setPath(values, path, coerceString(schema, path, raw))
    layers.push({ source, values })
  }
  return layers
}

/** Source of a path's value: the layer that set it or its nearest parent, else `fallback`. */
function sourceOf (provenance: Map<string, Source>, path: ReadonlyArray<PropertyKey>, fallback: Source | undefined): Source | undefined {
  for (let n = path.length; n > 0; n--) {
    const found = provenance.get(path.slice(0, n).map(String).join('.'))
    if (found != null) return found
  }
  return fallback
}

function describeIssue (schema: z.ZodType, issue: z.core.$ZodIssue): { path: ReadonlyArray<PropertyKey>, problem: string } {
  switch (issue.code) {
    case 'unrecognized_keys': {
      const key = issue.keys[0] as string
      const known = knownKeys(schema, issue.path)
      return { path: [...issue.path, key], problem: `unknown key${known.length > 0 ? ` (expected one of: ${known.join(', ')})` : ''}` }
    }
    case 'invalid_type':
      if (issue.input === undefined) return { path: issue.path, problem: 'required key is missing' }
      return { path: issue.path, problem: `expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}` }
    case 'too_small':
    case 'too_big': {
      // a schema's own message wins over zod's generic "Too small: ..."
      if (!/^Too (small|big)/.test(issue.message)) return { path: issue.path, problem: issue.message }
      const bound = String(issue.code === 'too_small' ? issue.minimum : issue.maximum)
      const word = issue.code === 'too_small' ? 'at least' : 'at most'
      if (issue.origin === 'string' || issue.origin === 'array') {
        const unit = issue.origin === 'string' ? 'character' : 'entry'
        const plural = bound === '1' ? unit : issue.origin === 'string' ? 'characters' : 'entries'
        return { path: issue.path, problem: `must have ${word} ${bound} ${plural}` }
      }
      return { path: issue.path, problem: `must be ${word} ${bound}, got ${describeValue(issue.input)}` }
    }
    case 'invalid_value':
      return { path: issue.path, problem: `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(issue.input)}` }
    default:
      // refinements on a parent report the parent as input: only quote scalar inputs
      return { path: issue.path, problem: isPlainObject(issue.input) || Array.isArray(issue.input) || issue.input === undefined ? issue.message : `${issue.message}, got ${describeValue(issue.input)}` }
  }
}

export interface ResolveOptions {
  /** Where a missing required key should have been (normally the config file). */
  primary?: Source
  /** Schema keys holding paths: relative values are resolved against their file's directory. */
  pathKeys?: string[]
}

export interface Resolved<T> {
  config: T
  provenance: Map<string, Source>
}

/** Merges, validates and freezes; throws a one-line ConfigError on the first problem. */
export function resolveLayers<S extends z.ZodType> (schema: S, layers: Layer[], opts: ResolveOptions = {}): Resolved<z.output<S>> {
  const { values, provenance } = mergeLayers(layers)
  const result = schema.safeParse(values, { reportInput: true })
  if (!result.success) {
    const issues = result.error.issues
    const first = issues[0] as z.core.$ZodIssue
    const { path, problem } = describeIssue(schema, first)
    const source = sourceOf(provenance, path, opts.primary)
    const where = source == null ? 'configuration' : describeSource(source)
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : ''
    throw new ConfigError(`${where}: key "${formatPath(path)}": ${problem}${more}`, { source: where, key: formatPath(path) })
  }
  const config = result.data as Plain
  for (const key of opts.pathKeys ?? []) {
    const path = key.split('.')
    const value = path.reduce<unknown>((node, part) => (isPlainObject(node) ? node[part] : undefined), config)
    if (typeof value !== 'string' || isAbsolute(value)) continue
    const source = provenance.get(key)
    const base = source?.kind === 'file' ? dirname(resolve(source.path)) : process.cwd()
    setPath(config, path, resolve(base, value))
  }
  return { config: deepFreeze(config) as z.output<S>, provenance }
}

export function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}

/** Parses `--set a.b=value` style assignments against a schema into a flag layer. */
export function assignmentLayer (schema: z.ZodType, assignments: string[], flagName = '--set'): Layer[] {
  return assignments.map((assignment) => {
    const eq = assignment.indexOf('=')
    if (eq <= 0) throw new ConfigError(`flag ${flagName} ${assignment}: expected KEY=VALUE, e.g. ${flagName} http.port=8080`)
    const path = assignment.slice(0, eq).trim().split('.')
    const source: Source = { kind: 'flag', name: `${flagName} ${assignment.slice(0, eq)}` }
    assertSafePath(path, source)
    const values: Plain = {}
    setPath(values, path, coerceString(schema, path, assignment.slice(eq + 1)))
    return { source, values }
  })
}

export interface ConfigOverrides {
  /** Flag layer: dotted key → value, applied last (e.g. `{ flag: '--http-port', key: 'http.port', value: 9000 }`). */
  flags?: Array<{ flag: string, key: string, value: unknown }>
  /** `--set key=value` assignments. */
  set?: string[]
  env?: NodeJS.ProcessEnv
}

/**
 * Reads `file` and layers it: schema defaults → file → environment (`envPrefix`…, and LOG_LEVEL
 * for `log.level`) → flags → `--set`. Relative `pathKeys` resolve against their source.
 */
export async function loadLayeredConfig<S extends z.ZodType> (schema: S, file: string, envPrefix: string, pathKeys: string[], overrides: ConfigOverrides = {}): Promise<z.output<S>> {
  const env = overrides.env ?? process.env
  const fileSource: Source = { kind: 'file', path: file }
  const layers: Layer[] = [{ source: fileSource, values: await readTomlFile(file) }]
  layers.push(...envLayer(schema, envPrefix, env))
  if (env.LOG_LEVEL != null && env.LOG_LEVEL !== '') layers.push({ source: { kind: 'env', name: 'LOG_LEVEL' }, values: { log: { level: env.LOG_LEVEL } } })
  for (const { flag, key, value } of overrides.flags ?? []) {
    if (value === undefined) continue
    const source: Source = { kind: 'flag', name: flag }
    assertSafePath(key.split('.'), source)
    const values: Record<string, unknown> = {}
    setPath(values, key.split('.'), value)
    layers.push({ source, values })
  }
  layers.push(...assignmentLayer(schema, overrides.set ?? []))
  return resolveLayers(schema, layers, { primary: fileSource, pathKeys }).config
}
