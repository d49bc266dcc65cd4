"""Write mmhad's small seeded demo dataset (see ``mmhad/utils/demo_data.py``).

    python tools/misc/make_demo_data.py --out data/demo [--num-train 480 --num-val 80]
"""
import argparse

from mmhad.utils.demo_data import DEFAULTS, make_demo_data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo')
    for key, value in DEFAULTS.items():
        parser.add_argument('--' + key.replace('_', '-'), type=type(value), default=value)
    args = parser.parse_args()
    settings = {key: getattr(args, key) for key in DEFAULTS}
    n_train, n_val = make_demo_data(args.out, **settings)
    print(f'wrote {args.num_train} train / {args.num_val} val scenes '
          f'({n_train} / {n_val} objects) to {args.out}')


if __name__ == '__main__':
    main()
