import { backendInfo } from 'latent-struct';

const info = backendInfo();   // { cpu: { available, threads, simd }, cuda: { compiled, emulated, available, reason?, device? } }
console.log(`CPU: ${info.cpu.threads} threads;`, info.cuda.available ? `CUDA: ${info.cuda.device?.name}` : `no CUDA (${info.cuda.reason})`);
