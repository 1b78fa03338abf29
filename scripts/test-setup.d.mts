// Types of scripts/test-setup.mjs (plain JavaScript so that Node runs it before anything is built).
export const LAVAPIPE_ICD: string;
export interface SetupFacts { nodeModules: boolean; apt: boolean; root: boolean; missingPackages: string[]; lavapipe: boolean; ownAdapter: boolean; chromiumOverride: boolean }
export interface SetupStep { cmd: string; args: string[]; why: string }
export type SetupPlan = { steps: SetupStep[] } | { stop: string };
export function neededPackages(f: { chromiumOverride: boolean; ownAdapter: boolean }): string[];
export function planSetup(f: SetupFacts): SetupPlan;
export function gatherFacts(env?: NodeJS.ProcessEnv): SetupFacts;
export function setUp(env?: NodeJS.ProcessEnv): number;
