// `npm test` on a fresh machine does its own set-up or stops at once with the exact command to run.
import { describe, expect, it } from 'vitest';
import { neededPackages, planSetup, type SetupFacts } from '../scripts/test-setup.mjs';

const fresh: SetupFacts = { nodeModules: true, apt: true, root: false, missingPackages: ['chromium', 'libvulkan1', 'mesa-vulkan-drivers'], lavapipe: false, ownAdapter: false, chromiumOverride: false };

describe('npm test set-up', () => {
  it('as root on Debian: installs the packages with apt-get, then fetches lavapipe', () => {
    const plan = planSetup({ ...fresh, root: true });
    expect(plan).toEqual({ steps: [
      { cmd: 'apt-get', args: ['update', '-qq'], why: 'package lists' },
      { cmd: 'apt-get', args: ['install', '-y', '-qq', 'chromium', 'libvulkan1', 'mesa-vulkan-drivers'], why: 'installing chromium libvulkan1 mesa-vulkan-drivers' },
      { cmd: 'bash', args: ['scripts/fetch-lavapipe.sh'], why: expect.stringMatching(/lavapipe/) },
    ] });
  });

  it('without root: stops at once with the exact command', () => {
    const plan = planSetup({ ...fresh, missingPackages: ['chromium'] });
    expect(plan).toEqual({ stop: 'npm test needs Debian packages that are not installed. Run:\n  sudo apt-get update && sudo apt-get install -y chromium\nthen npm test again.' });
  });

  it('without the npm dependencies: says npm ci first', () => {
    expect(planSetup({ ...fresh, nodeModules: false })).toEqual({ stop: expect.stringMatching(/^The npm dependencies are not installed\. Run:\n  npm ci\n/) });
  });

  it('off Debian: names what to install and how to point at Chromium', () => {
    const plan = planSetup({ ...fresh, apt: false, missingPackages: ['chromium'] });
    expect('stop' in plan && plan.stop).toMatch(/not a Debian\/Ubuntu system.*CHROMIUM_PATH/);
    expect(planSetup({ ...fresh, apt: false, missingPackages: [] })).toEqual({ stop: expect.stringMatching(/ADW_REAL_GPU=1 npm test/) });
  });

  it('a ready machine (or one with its own adapter) needs nothing', () => {
    expect(planSetup({ ...fresh, missingPackages: [], lavapipe: true })).toEqual({ steps: [] });
    expect(planSetup({ ...fresh, missingPackages: [], ownAdapter: true })).toEqual({ steps: [] });
    expect(neededPackages({ chromiumOverride: true, ownAdapter: true })).toEqual(['libvulkan1']);
  });
});
