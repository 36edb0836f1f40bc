import { NFA, Pattern } from '../../libs/cep/src/index';
interface Tx {
  type: number;
  amount: number;
}
const nfas = Array.from({ length: 100 }, (_, j) => {
  const first = j % 10,
    second = Math.floor(j / 10),
    limit = 500 + (j % 7) * 50;
  return NFA.compile(
    Pattern.begin<Tx>('first')
      .where((e) => e.type === first && e.amount > limit)
      .followedBy('second')
      .where((e) => e.type === second && e.amount > limit)
      .within(30),
  );
});
const states = nfas.map((n) => n.createState());
let x = 7;
const r = () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) / 4294967296;
};
const evs = Array.from({ length: 100000 }, () => ({ type: Math.floor(r() * 10), amount: Math.floor(r() * 1000) }));
let m = 0;
const t0 = Date.now();
for (let i = 0; i < evs.length; i++)
  for (let j = 0; j < 100; j++) m += nfas[j].process(states[j], evs[i], i).matches.length;
console.log(
  'eps',
  evs.length / ((Date.now() - t0) / 1000),
  'matches',
  m,
  'pms',
  states.reduce((s, st) => s + st.pm.length, 0),
);
