"""configs/*/metafile.yml: every model entry lists where its official weights are published
(issue 14) and points at a config that exists. Static checks only: no network.
"""
import glob
import os.path as osp
import re

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METAFILES = sorted(glob.glob(osp.join(REPO, 'configs', '*', 'metafile.yml')))

# The official repository of each collection: every `Source:` names it, pinned to a commit.
OFFICIAL_REPO = {
    'EMO': 'zhangzjn/EMO',
    'EfficientMod': 'ma-xu/EfficientMod',
    'Hadaptive-Net': 'acelych/conductor',
}
SOURCE_RE = re.compile(r'^(?P<repo>[\w.-]+/[\w.-]+)@[0-9a-f]{40} \S+')
SHA256_RE = re.compile(r'^[0-9a-f]{64}$')
SHA1_RE = re.compile(r'^[0-9a-f]{40}$')
URL_RE = re.compile(r'^https://[^\s/]+\.[^\s/]+/\S+$')


def _load(path):
    with open(path) as f:
        return yaml.safe_load(f)


def _models():
    for path in METAFILES:
        for model in _load(path)['Models']:
            yield osp.relpath(path, REPO), model


MODELS = list(_models())
IDS = [m['Name'] for _, m in MODELS]


def test_metafiles_found():
    families = {osp.basename(osp.dirname(p)) for p in METAFILES}
    assert {'emo', 'efficientmod', 'hadaptive_net'} <= families


@pytest.mark.parametrize('path', METAFILES, ids=lambda p: osp.relpath(p, REPO))
def test_metafile_structure(path):
    data = _load(path)
    collections = {c['Name'] for c in data['Collections']}
    assert collections <= set(OFFICIAL_REPO), collections
    for c in data['Collections']:
        assert osp.isfile(osp.join(REPO, c['README'])), c['README']
    names = [m['Name'] for m in data['Models']]
    assert len(names) == len(set(names)), 'duplicate model names'
    for m in data['Models']:
        assert m['In Collection'] in collections, m['Name']


@pytest.mark.parametrize('metafile,model', MODELS, ids=IDS)
def test_config_exists(metafile, model):
    config = model['Config']
    assert config.startswith('configs/') and config.endswith('.py'), config
    assert osp.isfile(osp.join(REPO, config)), f'{metafile}: {config} does not exist'


@pytest.mark.parametrize('metafile,model', MODELS, ids=IDS)
def test_official_weights(metafile, model):
    assert 'Official Weights' in model, f'{metafile}: {model["Name"]} has no Official Weights'
    weights = model['Official Weights']
    assert isinstance(weights, list), weights
    repo = OFFICIAL_REPO[model['In Collection']]
    for w in weights:
        for key in ('Kind', 'URL', 'Source', 'SHA256'):
            assert key in w, f'{model["Name"]}: an Official Weights entry lacks {key}'
        assert isinstance(w['Kind'], str) and w['Kind'].strip(), w
        assert isinstance(w['URL'], str) and URL_RE.match(w['URL']), w['URL']
        src = SOURCE_RE.match(str(w['Source']))
        assert src, f'Source should read "owner/name@<40-hex commit> <file>": {w["Source"]!r}'
        assert src.group('repo') == repo, (src.group('repo'), repo)
        sha = w['SHA256']
        assert sha is None or (isinstance(sha, str) and SHA256_RE.match(sha)), sha
        if 'Git Blob SHA-1' in w:
            assert SHA1_RE.match(str(w['Git Blob SHA-1'])), w['Git Blob SHA-1']
            # a git blob id only identifies a file in that repository's tree
            assert f'github.com/{repo}/' in w['URL'], w['URL']
