export {
  parseSettingOverrides,
  runSimulatorCli,
  runSimulatorProcess,
  SIM_USAGE,
  type SimProcessOptions,
} from './cli.js';
export { DAY_MS, isoDate, isoTime, SimClock } from './clock.js';
export type { RecordedRequest, UnexpectedRequest } from './context.js';
export type { FaultAction, NewRateLimit, RequestMatcher } from './http/faults.js';
export type { Store } from './model/store.js';
export type * from './model/types.js';
export { ACCESS, ACCESS_LEVELS } from './model/types.js';
export type { IdTokenFault, OidcFaults } from './oauth/oidc.js';
export type {
  Seed,
  SeedApplication,
  SeedGroup,
  SeedMember,
  SeedProject,
  SeedSummary,
  SeedUser,
} from './seed.js';
export { applySeed, generateUsers, readSeedFile, SeedError, validateSeed } from './seed.js';
export { defaultSettings, type SimSettings } from './settings.js';
export {
  ADMIN_TOKEN_SCOPES,
  type GivenApplication,
  Simulator,
  type SimulatorOptions,
  startSimulator,
} from './simulator.js';
