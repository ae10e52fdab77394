// The fields of a manifest that have no Kubernetes equivalent: one small named check each, run
// in order, each warning only when the manifest asks for something other than the default
// (docs/kube-export.md, "No Kubernetes equivalent"). Pure.

import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, DEFAULTS } from '../../manifest/defaults.js';
import type { ContainerSpec } from '../../manifest/spec.js';
import type { Warn } from './volumes.js';

type Check = (spec: ContainerSpec, warn: Warn) => void;

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

const resources: Check = (spec, warn) => {
  const r = spec.resources;
  if (r.memorySwapBytes !== null && r.memorySwapBytes !== r.memoryBytes) warn('spec.resources.memorySwap', 'swap is configured per node, by the kubelet\'s memorySwap.swapBehavior');
  if (r.cpuWeight !== null) warn('spec.resources.cpuWeight', 'Kubernetes derives the CPU weight from requests.cpu');
  if (r.cpusetCpus !== null || r.cpusetMems !== null) warn('spec.resources.cpuset', 'CPU and memory-node pinning is the kubelet\'s CPU and memory managers\' choice, per node');
  if (r.pids !== DEFAULTS.pids) warn('spec.resources.pids', 'the process limit is per Pod, set on the node by the kubelet\'s podPidsLimit');
  if (r.ioWeight !== null || r.ioLimits.length > 0) warn('spec.resources.io', 'block I/O weights and limits have no resource field');
};

const processFields: Check = (spec, warn) => {
  if (spec.process.ulimits.length > 0) warn('spec.ulimits', 'setrlimit limits are the container runtime\'s defaults');
  if (spec.process.oomScoreAdj !== 0) warn('spec.oomScoreAdj', 'the kubelet sets oom_score_adj from the Pod\'s QoS class');
  if (spec.init) warn('spec.init', 'no init process is added to a container; with shareProcessNamespace the pause process is PID 1, which reaps but forwards no signals');
  if (spec.stopSignal.name !== DEFAULTS.stopSignal) warn('spec.stopSignal', `the kubelet stops with SIGTERM, not ${spec.stopSignal.name}; lifecycle.stopSignal is alpha, behind the ContainerStopSignals gate`);
};

const namespaces: Check = (spec, warn) => {
  const ns = spec.namespaces;
  if (ns.uts === 'host') warn('spec.namespaces.uts', 'a Pod shares the host\'s UTS namespace only with hostNetwork');
  if (ns.cgroup === 'host') warn('spec.namespaces.cgroup', 'a container always has a private cgroup namespace on cgroup v2');
  if (ns.user?.kind === 'manual') warn('spec.namespaces.user', 'explicit id maps: hostUsers: false lets the kubelet choose the ranges');
  if (ns.user?.kind === 'auto' && ns.user.size !== DEFAULTS.userNamespaceSize) warn('spec.namespaces.user.size', 'the kubelet gives every Pod 65536 ids');
};

const network: Check = (spec, warn) => {
  const net = spec.network;
  if (net.mode === 'none') warn('spec.network.mode', 'none: a Pod always has a network interface; a NetworkPolicy that denies all traffic comes closest');
  if (spec.namespaces.network.kind === 'container') warn('spec.namespaces.network', `joining container ${spec.namespaces.network.container}'s network: put both containers in one Pod`);
  if (net.bridge !== null) {
    if (net.bridge.address !== 'auto') warn('spec.network.address', 'a Pod\'s address is leased by the cluster network');
    if (net.bridge.aliases.length > 0) warn('spec.network.aliases', 'other names come from a Service');
    if (net.bridge.network !== undefined) warn('spec.network.name', 'a Pod joins the cluster network; other networks need a CNI add-on such as Multus');
  }
};

const security: Check = (spec, warn) => {
  if (spec.security.privileged) return;
  if (!sameList(spec.security.maskedPaths, DEFAULT_MASKED_PATHS) || !sameList(spec.security.readonlyPaths, DEFAULT_READONLY_PATHS)) {
    warn('spec.security.maskedPaths', 'the masked and read-only /proc paths are the runtime\'s defaults; procMount: Unmasked clears them all');
  }
  if (spec.devices.host.length > 0) warn('spec.devices', 'host devices reach a container through a device plugin, or a privileged container');
};

const host: Check = (spec, warn) => {
  if (spec.logging.maxSizeBytes !== DEFAULTS.logMaxSizeBytes || spec.logging.maxFiles !== DEFAULTS.logMaxFiles) {
    warn('spec.logging', 'log rotation is configured per node, by the kubelet\'s containerLogMaxSize and containerLogMaxFiles');
  }
  if (spec.dependsOn.length > 0) warn('spec.dependsOn', `Pods start in no order; waiting for ${spec.dependsOn.join(', ')} takes an init container or a retrying command`);
};

const CHECKS: readonly Check[] = [resources, processFields, namespaces, network, security, host];

export function checkUnsupported(spec: ContainerSpec, warn: Warn): void {
  for (const check of CHECKS) check(spec, warn);
}
