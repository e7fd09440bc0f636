"""Patch a worktree's GANTrainer so that the generator's last attention map is level_map.py's."""
import sys
from pathlib import Path

path = Path(sys.argv[1]) / "rrgan/training/trainers.py"
source = path.read_text()
old = """            outputs = self.wiring.generate(image, guidance, training=True)
            if self.adversarial:
                real = self.discriminator(target, training=True)"""
new = """            from level_map import level_attention
            light = tf.stop_gradient(level_attention(self.wiring, image))
            guidance = {**guidance, "attention_maps": tf.concat([guidance["attention_maps"][..., :-1], light], -1)}
            outputs = self.wiring.generate(image, guidance, training=True)
            if self.adversarial:
                real = self.discriminator(target, training=True)"""
assert source.count(old) == 1
path.write_text(source.replace(old, new))
