/** Makes one large result and prints the host pool's state as `STATS {json}` (host_pool.test.ts). */
import { LinearChainCRF, Tensor } from '../../lib';
import { native } from '../../lib/native';

const edges = new Tensor(new Float64Array(8 * 31 * 16 * 16), [8, 31, 16, 16]);
const marginals = new LinearChainCRF(edges).marginals();
console.log(`STATS ${JSON.stringify({ ...native.hostPoolStats(), size: marginals.size })}`);
