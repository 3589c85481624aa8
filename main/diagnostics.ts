/**
 * "Copy diagnostics": what a bug report needs (versions, platform, backends and devices, the chosen
 * backend and why, the recent log at info and above) gathered in one place and as plain text.
 */
import os from 'os';
import type { EngineClient } from './engine/client';
import type { AppInfo, Diagnostics } from './ipc/contract';
import { readLogTail } from './logging';

export function runtimeName(versions: NodeJS.ProcessVersions = process.versions): string {
  const electron = (versions as NodeJS.ProcessVersions & { electron?: string }).electron;
  return electron ? `Electron ${electron}, Node ${versions.node}` : `Node ${versions.node}`;
}

const GiB = 2 ** 30;

export function diagnosticsText(d: Omit<Diagnostics, 'text'>): string {
  const choice = d.backendChoice ? `${d.backendChoice.backend} (${d.backendChoice.reason})` : 'not chosen yet';
  return [
    `Hearth ${d.appVersion} (${d.runtime})`,
    `Platform: ${d.platform} ${d.arch}, ${d.osRelease}`,
    `CPU: ${d.cpu}; RAM ${(d.ramTotal / GiB).toFixed(1)} GiB`,
    `llama.cpp: ${d.llamaCommit}`,
    `Backends: ${d.backends.join(', ') || 'none'}`,
    `Backend in use: ${choice}`,
    ...(d.engineError ? [`Engine error: ${d.engineError}`] : []),
    'Devices:',
    ...(d.devices.length
      ? d.devices.map((v) => `  ${v.backend}/${v.name} (${v.type}) ${v.description}: ${(v.memoryFree / GiB).toFixed(1)} of ${(v.memoryTotal / GiB).toFixed(1)} GiB free`)
      : ['  none']),
    `Logs: ${d.logsDir}`,
    `Recent log (${d.logTail.length} lines, info and above):`,
    ...d.logTail,
  ].join('\n');
}

export function collectDiagnostics(info: AppInfo, engine: EngineClient): Diagnostics {
  const c = engine.backendChoice;
  const d: Omit<Diagnostics, 'text'> = {
    appVersion: info.appVersion,
    runtime: runtimeName(),
    platform: process.platform,
    arch: process.arch,
    osRelease: `${os.type()} ${os.release()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    ramTotal: os.totalmem(),
    llamaCommit: info.llamaCommit,
    backends: info.backends,
    devices: info.devices,
    backendChoice: c ? { backend: c.backend, reason: c.reason } : null,
    ...(info.engineError ? { engineError: info.engineError } : {}),
    logsDir: info.logsDir,
    logTail: readLogTail(info.logsDir),
  };
  return { ...d, text: diagnosticsText(d) };
}
