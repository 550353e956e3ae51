using Engine.Demo;

namespace Engine.Tests.Demo;

/// <summary>The soak's verdicts (<see cref="SoakRules"/>): plateau and stall.</summary>
public class SoakRulesTests
{
    [Test]
    public void A_sawtooth_that_keeps_hitting_the_same_ceiling_is_a_plateau()
    {
        double[] rss = [60, 75, 90, 70, 92, 71, 91, 72, 93];
        Assert.Multiple(() =>
        {
            Assert.That(SoakRules.LastThirdGrowth(rss), Is.EqualTo(1).Within(1e-9), "93 against 92");
            Assert.That(SoakRules.IsPlateau(rss), Is.True);
        });
    }

    [Test]
    public void A_steady_rise_is_not_a_plateau_even_when_each_step_is_small()
    {
        // 1.3 MB a minute sampled every 30 s for 30 minutes: the rise issue 29 saw in an idle demo.
        double[] rss = [.. Enumerable.Range(0, 60).Select(i => 72 + (0.65 * i))];
        Assert.Multiple(() =>
        {
            Assert.That(SoakRules.LastThirdGrowth(rss), Is.EqualTo(13).Within(1e-9));
            Assert.That(SoakRules.IsPlateau(rss), Is.False);
        });
    }

    [Test]
    public void Growth_within_the_tolerance_is_a_plateau_and_beyond_it_is_not()
    {
        // Earlier peak 100 MB: 5 % of it (5 MB) is more than the 2 MB floor.
        Assert.Multiple(() =>
        {
            Assert.That(SoakRules.IsPlateau([100, 90, 95, 100, 104.9, 90]), Is.True);
            Assert.That(SoakRules.IsPlateau([100, 90, 95, 100, 105.1, 90]), Is.False);

            // Earlier peak 10 MB: the 2 MB floor applies.
            Assert.That(SoakRules.IsPlateau([10, 9, 9, 10, 11.9, 9]), Is.True);
            Assert.That(SoakRules.IsPlateau([10, 9, 9, 10, 12.1, 9]), Is.False);
        });
    }

    [Test]
    public void Memory_that_falls_is_a_plateau()
    {
        Assert.That(SoakRules.IsPlateau([90, 88, 80, 70, 70, 70]), Is.True);
    }

    [Test]
    public void Fewer_than_three_samples_give_no_verdict()
    {
        Assert.Multiple(() =>
        {
            Assert.That(SoakRules.IsPlateau([70, 90]), Is.Null);
            Assert.That(SoakRules.LastThirdGrowth([]), Is.Null);
        });
    }

    [TestCase(20_000, 199.9, true)]
    [TestCase(20_000, 200, false)]
    [TestCase(20_000, 0.4, true)]
    [TestCase(50, 0.9, true)]
    [TestCase(50, 1, false)]
    [TestCase(0, 0.5, true)]
    [TestCase(0, 5_000, false)]
    public void An_interval_under_load_stalls_below_one_percent_of_the_rate_or_one_item_a_second(int rate, double itemsPerSecond, bool stalled) =>
        Assert.That(SoakRules.IsStalled(itemsPerSecond, rate), Is.EqualTo(stalled));
}
