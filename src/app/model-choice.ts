/**
 * Which model the service runs: the configured one, or for `model.name: auto`
 * the classifier that suits the execution provider (AUTO_MODEL).
 */
import type { AppConfig } from '../config/schema.js';
import { AUTO_MODEL, ModelFileError, resolveModel } from '../models/registry.js';
import type { ResolvedModel } from '../models/types.js';
import { resolveProvider } from '../engine/provider.js';
import type { Logger } from '../telemetry/logger.js';

/**
 * For `auto` the provider is decided first, with the CPU model as the probe.
 * On CUDA without the float model on disk, the int8 one is used with a
 * warning saying how to get the float one.
 */
export async function resolveServiceModel(config: AppConfig, root: string | undefined, log: Logger): Promise<ResolvedModel> {
  if (config.model.name !== 'auto') return resolveModel(config.model.name, config.model, { projectRoot: root });
  const cpuModel = await resolveModel(AUTO_MODEL.cpu, config.model, { projectRoot: root });
  if (config.engine.provider === 'cpu') return cpuModel;
  const { provider } = await resolveProvider(config.engine, cpuModel.modelPath);
  if (provider === 'cpu') return cpuModel;
  try {
    return await resolveModel(AUTO_MODEL.cuda, config.model, { projectRoot: root });
  } catch (err) {
    if (!(err instanceof ModelFileError)) throw err;
    log.warn({ model: AUTO_MODEL.cuda }, `model.name auto: the float classifier for CUDA is not available (${err.message}); using ${AUTO_MODEL.cpu}`);
    return cpuModel;
  }
}
