import type { ReplicationManager } from '../cluster/session-cluster.js'
import { AllToAllStrategy } from './all-to-all/all-to-all-strategy.js'
import { BackupStrategy, type BackupInit } from './backup/backup-strategy.js'
import type { ReplicationStrategy } from './strategy.js'

/** The strategy the `manager` option names: the only place that knows there are several. */
export function createStrategy(manager: ReplicationManager, init: BackupInit): ReplicationStrategy {
  return manager === 'backup' ? new BackupStrategy(init) : new AllToAllStrategy(init)
}
