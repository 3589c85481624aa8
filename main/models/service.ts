/**
 * The models.* and hardware.* channels: the library's models and the loaded one (list, state,
 * load, unload), per-model load settings (a projector path chosen is checked when saved), memory estimates as the user moves sliders (llama.cpp's
 * own fit and estimate: nothing is loaded), and the hardware page's info and live usage.
 */
import { EngineClient } from '../engine/client';
import type { Logger } from '../logging';
import { LoadParams, LoadParamsInput } from '../engine/protocol';
import { HardwareMonitor } from '../hardware';
import { IpcError, LoadSettingsDTO, MemoryEstimateDTO, ModelSettingsView } from '../ipc/contract';
import { defaultContextSize, LOAD_SETTING_DEFAULTS, LOAD_SETTING_FIELDS, memoryNeed, type MemoryUse, unsetBlankPaths } from '../params';
import { Services } from '../services';
import { Store } from '../store';
import { planLoad, refusedAs } from './fit';
import { projectorFileProblem } from './projector-pick';
import { ModelLibrary } from './library';
import { adaptersFor } from '../gguf/adapters';
import { readGgufHeader } from '../gguf/read';
import { previewTemplate } from './template-preview';

/** Settings the engine would refuse (its LoadParams: bounds and combinations, e.g. micro-batch ≤ batch) are invalid input. */
function checkLoadSettings(settings: LoadParamsInput): void {
  const r = LoadParams.safeParse(settings);
  if (!r.success) throw new IpcError('invalid_input', `load settings: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
}

export class ModelService {
  private estimateSeq = 0;

  constructor(
    private readonly deps: { store: Store; engine: EngineClient; library: ModelLibrary; services: Services; hardware: HardwareMonitor; logger: Logger },
  ) {}

  private async view(path: string): Promise<ModelSettingsView> {
    path = await this.deps.library.known(path);
    const info = await this.deps.engine.info(path);
    const settings = this.deps.store.modelSettings.get(path) as LoadSettingsDTO;
    const loaded = this.deps.library.loadedWith(path);
    return {
      path,
      settings,
      defaults: {
        ...LOAD_SETTING_DEFAULTS,
        contextSize: defaultContextSize(info.trainedContext),
        threads: (await this.deps.hardware.info()).cpu.defaultThreads,
      },
      layers: info.layers,
      trainedContext: info.trainedContext,
      loadedWith: loaded,
      adapters: await readGgufHeader(path)
        .then((h) => adaptersFor(path, h))
        .catch(() => []),
    };
  }

  register(): void {
    const { store, services } = this.deps;
    const { library } = this.deps;
    services.register({
      'models.list': () => library.entries(),
      'models.state': () => library.current(),
      'models.load': (r) => library.load(r.path, r.force),
      'models.unload': () => library.unload(),
      // every channel naming a model accepts only the library's models and files picked this session
      'models.settings.get': (r) => this.view(r.path),
      'models.settings.update': async (r) => {
        const file = await this.deps.library.known(r.path);
        const merged = unsetBlankPaths(LOAD_SETTING_FIELDS, { ...store.modelSettings.get(file), ...r.settings });
        checkLoadSettings(merged);
        // a projector the user chooses is checked now, not at the next load (blank: unset, the folder pairs)
        if (r.settings.mmproj !== undefined && merged.mmproj !== undefined) {
          const problem = await projectorFileProblem(merged.mmproj, file);
          if (problem) throw new IpcError('invalid_input', problem);
        }
        store.modelSettings.set(file, merged);
        return this.view(file);
      },
      'models.settings.reset': async (r) => {
        const file = await this.deps.library.known(r.path);
        store.modelSettings.delete(file);
        return this.view(file);
      },
      'models.estimate': async (r) => {
        const seq = ++this.estimateSeq; // before any await: the order the requests came in
        const file = await this.deps.library.known(r.path);
        const settings = unsetBlankPaths(LOAD_SETTING_FIELDS, { ...store.modelSettings.get(file), ...r.settings }) as LoadParamsInput;
        checkLoadSettings(settings);
        const margin = store.settings.get('fitMarginMiB');
        // the settings as the load takes them: its folder's projector too
        const plan = await planLoad(this.deps.engine, file, await this.deps.library.withProjector(file, settings), margin).catch(
          refusedAs('invalid_input'),
        );
        // a newer estimate (the slider moved again) makes this one stale: the renderer drops it
        if (seq !== this.estimateSeq) throw new IpcError('superseded', 'a newer estimate was asked for');
        const e = plan.estimate;
        const part = (m: MemoryUse) => ({ ...m, total: memoryNeed(m) });
        const dto: MemoryEstimateDTO = {
          devices: e.devices.map((d) => ({ ...part(d), name: d.name, backend: d.backend, description: d.description, type: d.type })),
          host: part(e.host),
          gpuLayers: plan.gpuLayers,
          contextSize: plan.contextSize,
          layers: e.layers,
          fitReason: plan.reason,
          moeChoice: plan.moe,
          fits: plan.check.fits,
          problems: plan.check.problems,
        };
        return dto;
      },
      'models.template.preview': async (r) => previewTemplate(this.deps.engine, await this.deps.library.known(r.path), r.template),
      'hardware.info': () => this.deps.hardware.info(),
      'hardware.usage': () => this.deps.hardware.usage(),
    });
  }
}
