export { conditionExpression, evaluateCondition, truthy } from './conditions.js';
export {
  CONTEXT_NAMES,
  type Contexts,
  type EvaluateOptions,
  evaluateExpression,
  type HashFiles,
  type StatusCheck,
  type Value,
} from './expressions.js';
export { digestFiles, hashFilesInDirectory, selectFiles } from './hash-files.js';
export {
  evaluateString,
  evaluateStringMap,
  evaluateTemplate,
  interpolation,
  type Template,
} from './template.js';
