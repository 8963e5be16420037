# Reading fusionhop trajectory files (H5MD) and writing their frames as XYZ, for the selection
# scripts here (make_mingap.py, make_fragment_path.py): one place that knows where a trajectory's
# stop reason is kept and how a fragmented one is marked. Positions are in Angstrom.
SYMBOL = {1: 'H', 6: 'C'}


def stop_reason(f):
    """The trajectory's stop reason ("CODE: message"), '' if it has none."""
    for attrs in ([f['tsh'].attrs] if 'tsh' in f else []) + [f.attrs]:
        if 'stop_reason' in attrs:
            v = attrs['stop_reason']
            return v.decode() if isinstance(v, bytes) else str(v)
    return ''


def fell_apart(f):
    """Whether `[dynamics] bond_break` stopped it (reason code "fragmented")."""
    return stop_reason(f).startswith('fragmented')


def write_frame(o, comment, species, x):
    """One XYZ frame: atom count, comment, symbol and coordinates per atom."""
    o.write('%d\n%s\n' % (len(species), comment))
    for a in range(len(species)):
        o.write('%-2s %15.10f %15.10f %15.10f\n' % (SYMBOL[int(species[a])], *x[a]))
