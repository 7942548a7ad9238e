"""Tests for ae_core.data.image_folder: formats, colour modes, class folders, skip reasons, hostile zips."""

import io
import os
import stat
import zipfile

import numpy as np
import pytest
from PIL import Image

from ae_core.data.image_folder import ImageLimits, read_images
from ae_core.errors import InputError


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def grey(value: int, size=(16, 16)) -> Image.Image:
    return Image.new("L", size, value)


def make_zip(path, members: dict, **zkw):
    with zipfile.ZipFile(path, "w", **zkw) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def files_under(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("BMP", "bmp"), ("GIF", "gif")],
                         ids=["png", "jpeg", "webp", "bmp", "gif"])
def test_reads_each_format(tmp_path, fmt, suffix):
    data = encode(grey(200), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    ims = read_images(make_zip(tmp_path / "a.zip", {f"a.{suffix}": data, f"b.{suffix}": encode(grey(40), fmt)}), side=8)
    assert ims.X.shape == (2, 8, 8) and ims.X.dtype == np.uint8
    assert abs(int(ims.X[0].mean()) - 200) <= 3 and abs(int(ims.X[1].mean()) - 40) <= 3  # sorted by name
    assert ims.report.n_read == 2 and ims.report.colour == "grayscale"


def test_gif_uses_the_first_frame(tmp_path):
    frames = [grey(250), grey(10)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    ims = read_images(make_zip(tmp_path / "g.zip", {"anim.gif": data}), side=8)
    assert ims.X[0].min() >= 245


def test_colour_images_stay_rgb_and_grey_ones_become_grayscale(tmp_path):
    red = Image.new("RGB", (12, 12), (220, 10, 10))
    ims = read_images(make_zip(tmp_path / "c.zip", {"r.png": encode(red, "PNG"), "g.png": encode(grey(99), "PNG")}), side=8)
    assert ims.report.colour == "rgb" and ims.X.shape == (2, 8, 8, 3)
    assert tuple(ims.X[1, 0, 0]) == (220, 10, 10)  # g.png sorts first
    assert tuple(ims.X[0, 0, 0]) == (99, 99, 99)
    forced = read_images(tmp_path / "c.zip", side=8, colour="grayscale")
    assert forced.X.shape == (2, 8, 8) and forced.X[1, 0, 0] == round(0.299 * 220 + 0.587 * 10 + 0.114 * 10)


def test_transparency_is_flattened_onto_white_and_palettes_are_read(tmp_path):
    clear = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    palette = Image.new("P", (10, 10), 0)
    palette.putpalette([30, 30, 30] + [0] * 765)
    ims = read_images(make_zip(tmp_path / "t.zip", {"a.png": encode(clear, "PNG"), "b.png": encode(palette, "PNG")}), side=8)
    assert ims.X[0].min() == 255 and ims.X[1].max() == 30
    assert dict(ims.report.modes) == {"RGBA": 1, "P": 1}


def test_sub_folders_name_the_classes_below_a_common_root(tmp_path):
    members = {"set/cat/1.png": encode(grey(1), "PNG"), "set/cat/2.png": encode(grey(2), "PNG"),
               "set/dog/x/3.png": encode(grey(3), "PNG")}
    ims = read_images(make_zip(tmp_path / "l.zip", members), side=8)
    assert ims.class_names == ("cat", "dog") and ims.labels.tolist() == [0, 0, 1]
    assert ims.report.classes == (("cat", 2), ("dog", 1))


def test_a_flat_folder_is_unlabelled_and_a_mixed_one_says_why(tmp_path):
    flat = read_images(make_zip(tmp_path / "f.zip", {"top/a.png": encode(grey(1), "PNG"), "top/b.png": encode(grey(2), "PNG")}))
    assert flat.labels is None and flat.class_names == ()
    mixed = read_images(make_zip(tmp_path / "m.zip", {"a.png": encode(grey(1), "PNG"), "k/b.png": encode(grey(2), "PNG")}))
    assert mixed.labels is None and any("beside the class folders" in n for n in mixed.report.notes)


def test_skipped_files_are_reported_with_their_reasons(tmp_path):
    members = {"ok.png": encode(grey(5), "PNG"), "notes.txt": b"hello", "broken.png": b"\x89PNG\r\n\x1a\nnot really",
               "tiny.png": encode(grey(5, (4, 4)), "PNG"), "__MACOSX/._ok.png": b"junk", ".DS_Store": b"junk"}
    ims = read_images(make_zip(tmp_path / "s.zip", members), side=8)
    reasons = dict(ims.report.skipped)
    assert ims.report.n_read == 1 and ims.names == ("ok.png",)
    assert reasons["notes.txt"].startswith("not an image")
    assert reasons["broken.png"].startswith("unreadable")
    assert reasons["tiny.png"].startswith("too small: 4x4")
    assert "__MACOSX/._ok.png" not in reasons and ims.report.n_files == 4
    assert dict(ims.report.skip_reasons()) == {"not an image": 1, "unreadable": 1, "too small": 1}
    assert any("Skipped 3 file(s)" in line for line in ims.report.summary_lines())


def test_side_is_chosen_from_the_common_size_or_set(tmp_path):
    members = {f"{i}.png": encode(grey(i, (40, 30)), "PNG") for i in range(3)}
    members["big.png"] = encode(grey(9, (300, 200)), "PNG")
    path = make_zip(tmp_path / "s.zip", members)
    auto = read_images(path)
    assert auto.report.side == 30 and auto.X.shape == (4, 30, 30)
    assert auto.report.sizes[0] == ("40x30", 3)
    assert read_images(path, side=16).X.shape == (4, 16, 16)


@pytest.mark.parametrize("kwargs,match", [({"side": 4}, "between 8 and 128"), ({"side": 500}, "between 8 and 128"),
                                          ({"colour": "sepia"}, "colour must be")], ids=["small", "large", "colour"])
def test_bad_options_are_refused(tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        read_images(make_zip(tmp_path / "a.zip", {"a.png": encode(grey(1), "PNG")}), **kwargs)


def test_a_folder_is_read_in_place_and_symlinks_are_not_followed(tmp_path):
    root = tmp_path / "imgs"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    grey(10).save(root / "a" / "1.png")
    grey(20).save(root / "b" / "2.jpg")
    outside = tmp_path / "secret.png"
    grey(30).save(outside)
    os.symlink(outside, root / "b" / "link.png")
    before = files_under(tmp_path)
    ims = read_images(root, side=8)
    assert ims.class_names == ("a", "b") and ims.report.source == "folder" and ims.report.n_read == 2
    assert dict(ims.report.skipped)["b/link.png"].startswith("symbolic link")
    assert files_under(tmp_path) == before


# ---- hostile zips: refused as a whole, nothing written ---------------------------------------


def symlink_zip(path):
    info = zipfile.ZipInfo("evil.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(info, "/etc/passwd")
        zf.writestr("ok.png", encode(grey(1), "PNG"))
    return path


@pytest.mark.parametrize("name", ["../evil.png", "a/../../evil.png", "/etc/evil.png", "\\evil.png", "C:/evil.png",
                                  "..\\evil.png"], ids=["dotdot", "nested-dotdot", "absolute", "backslash-root",
                                                         "drive", "backslash-dotdot"])
def test_member_paths_that_climb_out_are_refused(tmp_path, name):
    path = make_zip(tmp_path / "evil.zip", {"ok.png": encode(grey(1), "PNG"), name: encode(grey(2), "PNG")})
    before = files_under(tmp_path)
    with pytest.raises(InputError, match="unsafe path"):
        read_images(path)
    assert files_under(tmp_path) == before and not (tmp_path.parent / "evil.png").exists()


def test_symlink_members_are_refused(tmp_path):
    with pytest.raises(InputError, match="symbolic link"):
        read_images(symlink_zip(tmp_path / "link.zip"))


def test_too_many_members_are_refused(tmp_path):
    path = make_zip(tmp_path / "many.zip", {f"{i}.png": encode(grey(i), "PNG") for i in range(6)})
    with pytest.raises(InputError, match="holds 6 files, more than the 5 allowed"):
        read_images(path, limits=ImageLimits(max_files=5))


def test_too_many_bytes_in_total_are_refused(tmp_path):
    path = make_zip(tmp_path / "big.zip", {f"{i}.bmp": encode(grey(i, (64, 64)), "BMP") for i in range(4)})
    with pytest.raises(InputError, match="expands to .* MB, more than"):
        read_images(path, limits=ImageLimits(max_total_bytes=10_000))


def test_a_member_that_expands_like_a_zip_bomb_is_refused(tmp_path):
    bomb = b"\x00" * (8 << 20)  # 8 MB of zeros deflate to about 8 kB
    path = make_zip(tmp_path / "bomb.zip", {"bomb.bmp": bomb}, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(InputError, match="zip bomb"):
        read_images(path)
    with pytest.raises(InputError, match="allowed per file"):
        read_images(path, limits=ImageLimits(max_file_bytes=1 << 20))


def test_an_image_whose_header_claims_too_many_pixels_is_refused_before_decoding(tmp_path):
    png = encode(Image.new("L", (2000, 1000), 0), "PNG")  # 2 M pixels in a few kB
    path = make_zip(tmp_path / "px.zip", {"ok.png": encode(grey(1), "PNG"), "huge.png": png})
    with pytest.raises(InputError, match="2,000x1,000 pixels, more than the 1,000,000 allowed"):
        read_images(path, limits=ImageLimits(max_pixels=1_000_000))


def test_not_a_zip_and_an_empty_zip_are_clear_errors(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not a zip at all")
    with pytest.raises(InputError, match="cannot open the zip"):
        read_images(tmp_path / "x.zip")
    with pytest.raises(InputError, match="no usable image in the zip .*not an image"):
        read_images(make_zip(tmp_path / "e.zip", {"readme.txt": b"hi"}))
    with pytest.raises(InputError, match="no such file or folder"):
        read_images(tmp_path / "missing")


def test_too_many_prepared_pixels_lower_the_automatic_side_or_are_refused(tmp_path):
    path = make_zip(tmp_path / "m.zip", {f"{i}.png": encode(grey(i, (64, 64)), "PNG") for i in range(10)})
    limits = ImageLimits(max_values=10 * 32 * 32 * 3)
    auto = read_images(path, limits=limits)
    assert auto.report.side == 32 and any("side lowered to 32" in n for n in auto.report.notes)
    with pytest.raises(InputError, match="too many to hold in memory; choose a side of at most 32"):
        read_images(path, side=48, limits=limits)
